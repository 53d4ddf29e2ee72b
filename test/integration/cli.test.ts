/**
 * The command line as a person uses it: check-config on good, broken and unsafe files.
 */
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { hashSecret } from "../../hub/src/api/auth.ts";

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

  it("warns about every plain broker password outside the demo, and takes scrypt hashes without a word", () => {
    const hash = hashSecret("a-long-board-secret", 1024);
    const r = checkConfig(
      [
        "site: school",
        "siteName: A school",
        `broker: { observer: { username: watcher, password: "${hash}" } }`,
        "devices:",
        `  - { kind: mqtt, id: pump, name: Pump, password: "${hash}" }`,
        "  - { kind: serial, id: board, name: Board, url: 'tcp://127.0.0.1:5001' }",
        "  - { kind: mqtt, id: heater, name: Heater, password: s3cret-heater-pw }",
        "  - { kind: mqtt, id: lights, name: Lights, password: s3cret-lights-pw }",
        "  - { kind: mqtt, id: broken, name: Broken, password: 'scrypt$16384$abc' }",
      ].join("\n"),
      "plain.yaml",
    );
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/⚠ devices\.2\.password is a plain password: store its scrypt hash \(tec-hub hash-secret\)/);
    expect(r.out).toMatch(/⚠ devices\.3\.password is a plain password: store its scrypt hash \(tec-hub hash-secret\)/);
    expect(r.out).toMatch(/⚠ devices\.4\.password starts like an scrypt hash but is not one/);
    expect(r.out).not.toMatch(/devices\.0\.password|devices\.1\.|broker\.observer/);

    const plainObserver = checkConfig(["site: school", "siteName: A school", "broker: { observer: { username: watcher, password: a-long-watch-pw } }"].join("\n"), "observer.yaml");
    expect(plainObserver.out).toMatch(/⚠ broker\.observer\.password is a plain password: store its scrypt hash/);
  });

  it("says the hub's own account on an external broker must stay plain, and does not ask to hash it or its devices' passwords", () => {
    const hashed = checkConfig(
      ["site: school", "siteName: A school", `broker: { mode: external, url: 'mqtt://10.0.0.2:1883', hub: { username: tec, password: "${hashSecret("x", 1024)}" } }`, "devices:", "  - { kind: mqtt, id: pump, name: Pump, password: s3cret-pump-pw }"].join("\n"),
      "external.yaml",
    );
    expect(hashed.code).toBe(0);
    expect(hashed.out).toMatch(/⚠ broker\.hub\.password is an scrypt hash, but the hub sends this password to the external broker: it must be the plain password/);
    expect(hashed.out).not.toMatch(/is a plain password/);
    const plain = checkConfig(["site: school", "siteName: A school", "broker: { mode: external, url: 'mqtt://10.0.0.2:1883', hub: { username: tec, password: a-long-hub-pw } }"].join("\n"), "external-plain.yaml");
    expect(plain.out).not.toMatch(/⚠/);
  });

  it("asks nothing of the demo config, whose simulators log in with its plain passwords", () => {
    const r = spawnSync(process.execPath, ["--import", "tsx", "hub/src/cli.ts", "check-config", "config/demo.yaml"], { cwd: ROOT, encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(`${r.stdout}${r.stderr}`).not.toMatch(/plain password/);
  });
});
