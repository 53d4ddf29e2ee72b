/**
 * The command line as a person uses it: check-config on good, broken and unsafe files.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const dir = mkdtempSync(path.join(os.tmpdir(), "tec-cli-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function checkConfig(yaml: string | null, file = "c.yaml") {
  const p = path.join(dir, file);
  if (yaml !== null) writeFileSync(p, yaml);
  const r = spawnSync(process.execPath, ["--import", "tsx", "hub/src/cli.ts", "check-config", p], { cwd: ROOT, encoding: "utf8" });
  return { code: r.status, out: `${r.stdout}${r.stderr}` };
}

describe("check-config", () => {
  it("accepts the demo config", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "hub/src/cli.ts", "check-config", "config/demo.yaml"], { cwd: ROOT, encoding: "utf8" });
    expect(r.stdout).toMatch(/✓ .*demo\.yaml: site "tec-deventer", \d+ device\(s\), broker embedded/);
    expect(r.status).toBe(0);
  });

  it("reports every problem at once with its path, and exits non-zero", () => {
    const r = checkConfig(
      [
        "site: Bad Site",
        "siteName: x",
        "broker: { mode: embedded, prot: 1883 }",
        "devices:",
        "  - { kind: mqtt, id: Pump_1, name: Pump, password: x }",
        "  - { kind: mqtt, id: pump, name: Pump, password: x }",
        "  - { kind: mqtt, id: pump, name: Pump again, password: y }",
        "  - { kind: modbus, id: meter, name: Meter }",
      ].join("\n"),
    );
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/site: must be lower-case/);
    expect(r.out).toMatch(/broker: Unrecognized key: "prot"|broker\.prot/);
    expect(r.out).toMatch(/devices\.0\.id: must be lower-case/);
    expect(r.out).toMatch(/devices\.2\.id: duplicate device id "pump"/);
    expect(r.out).toMatch(/devices\.3\.kind/);
  });

  it("says where a YAML syntax error is", () => {
    const r = checkConfig("site: x\n  siteName: [unclosed\n", "syntax.yaml");
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/not valid YAML/);
    expect(r.out).toMatch(/line \d/);
  });

  it("says when the file is missing", () => {
    const r = checkConfig(null, "missing.yaml");
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/cannot read config .*missing\.yaml/);
  });

  it("warns about demo passwords left in a config that is not the demo", () => {
    const r = checkConfig(
      ["site: school", "siteName: A school", "broker: { observer: { username: observer, password: observer } }", "devices:", "  - { kind: mqtt, id: pump, name: Pump, password: demo }"].join("\n"),
      "real.yaml",
    );
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/⚠ broker\.observer\.password: a demo password \("observer"\)/);
    expect(r.out).toMatch(/⚠ devices\.0\.password: a demo password \("demo"\)/);
  });
});
