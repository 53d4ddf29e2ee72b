import { describe, expect, it } from "vitest";
import { hashSecret } from "../api/auth.ts";
import { parseConfig } from "./load.ts";

const base = { site: "school", siteName: "A school" };

describe("check-config warnings about logins", () => {
  it.each<[string, unknown[], boolean, string[]]>([
    ["a 4-digit PIN", [{ name: "juf", role: "instructor", pin: "4831" }], false, ["users.0.pin: juf's PIN has 4 digits; use at least 6"]],
    ["a 5-digit PIN", [{ name: "juf", role: "instructor", pin: "48310" }], false, ["users.0.pin: juf's PIN has 5 digits"]],
    ["a 6-digit PIN", [{ name: "juf", role: "instructor", pin: "483107" }], false, []],
    ["a hashed PIN (its length is unknown)", [{ name: "juf", role: "instructor", secretHash: hashSecret("4831", 1024) }], false, []],
    ["the demo's 4-digit PIN in the demo", [{ name: "juf", role: "instructor", pin: "1234" }], true, []],
  ])("for %s", (_name, users, demo, expected) => {
    const { warnings } = parseConfig({ ...base, demo, users });
    const pinWarnings = warnings.filter((w) => w.includes("PIN has"));
    expect(pinWarnings).toHaveLength(expected.length);
    expected.forEach((text, i) => expect(pinWarnings[i]).toContain(text));
  });

  it("fills in the disk guard's defaults, and refuses a critical mark above the low one", () => {
    expect(parseConfig(base).config.storage).toMatchObject({ diskLowFreeMB: 2048, diskCriticalFreeMB: 512, walCheckpointMB: 16, diskCheckS: 30, rawRetentionH: 48 });
    expect(() => parseConfig({ ...base, storage: { diskLowFreeMB: 100, diskCriticalFreeMB: 200 } })).toThrow(/storage\.diskCriticalFreeMB: must be below diskLowFreeMB/);
  });
});

describe("check-config warnings about network printers' credentials", () => {
  // `base` of this file: no users, not a demo.
  const printer = (password: string, simulated = false) => ({ kind: "printer", id: "prusa", name: "Prusa", protocol: "prusalink", url: "http://10.0.0.4", simulated, auth: { user: "maker", password } });

  it("asks for the digest hash instead of a PrusaLink password, and says nothing of a hash or a simulated printer", () => {
    const plain = parseConfig({ ...base, devices: [printer("s3cret-pw")] }).warnings;
    expect(plain.some((w) => w.startsWith("devices.0.auth.password is the PrusaLink password itself"))).toBe(true);
    // The warning names the field, never the secret.
    expect(plain.join(" ")).not.toContain("s3cret-pw");
    expect(parseConfig({ ...base, devices: [printer(`ha1:${"a".repeat(32)}`)] }).warnings.some((w) => w.includes("auth.password"))).toBe(false);
    expect(parseConfig({ ...base, devices: [printer("s3cret-pw", true)] }).warnings.some((w) => w.includes("auth.password"))).toBe(false);
  });
});
