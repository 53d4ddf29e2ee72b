/**
 * The files that install the hub as a service: deploy/tec-hub.service checked by systemd's own
 * tools (verify, and the security score offline: neither needs systemd running as PID 1),
 * deploy/99-tec-hub.rules checked as udev rules, and deploy/install.sh run for real into a staging
 * folder (--root), twice.
 */
import { spawnSync, type SpawnSyncReturns } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFileSync, chmodSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const UNIT = path.join(ROOT, "deploy/tec-hub.service");
const RULES = path.join(ROOT, "deploy/99-tec-hub.rules");
const tmp = mkdtempSync(path.join(os.tmpdir(), "tec-deploy-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** The shipped unit's ExecStart, pointed at this machine's node and this checkout's bin/tec-hub.js. */
function unitForHere(text: string, node: string, cli: string): string {
  return text.replace(/^ExecStart=\/usr\/bin\/node \/opt\/tec-hub\/bin\/tec-hub\.js /m, `ExecStart=${node} ${cli} `);
}

/** `systemd-analyze verify` on a unit text (as tec-hub.service in its own folder); any stderr is a failure. */
function systemdVerify(unitText: string, dir: string): { ok: boolean; out: string } {
  const folder = mkdtempSync(path.join(dir, "unit-"));
  const file = path.join(folder, "tec-hub.service");
  writeFileSync(file, unitText);
  const r = analyze(["verify", file]);
  // A misspelt key exits 0 with "Unknown key ... ignoring" on stderr: any output is a failure.
  return { ok: r.status === 0 && r.stderr.trim() === "" && r.stdout.trim() === "", out: `${r.stdout}${r.stderr}` };
}

/** systemd-analyze, or a failed test that says what to install. */
function analyze(args: string[]): SpawnSyncReturns<string> {
  const r = spawnSync("systemd-analyze", args, { encoding: "utf8", env: { ...process.env, SYSTEMD_PAGER: "", SYSTEMD_COLORS: "0" } });
  if (r.error !== undefined) {
    throw new Error(`systemd-analyze could not run (${r.error.message}): apt-get install systemd (.ci/run installs it)`);
  }
  return r;
}

/** [Service] (or another section) as key -> every value given, in order. */
function section(text: string, name: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  let current = "";
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";")) continue;
    const head = /^\[(.+)\]$/.exec(line);
    if (head !== null) {
      current = head[1]!;
      continue;
    }
    if (current !== name) continue;
    const eq = line.indexOf("=");
    const key = line.slice(0, eq);
    out.set(key, [...(out.get(key) ?? []), line.slice(eq + 1)]);
  }
  return out;
}

/** A systemd time span in seconds: "30", "30s", "1min 30s", "2min". */
function seconds(span: string): number {
  const units: Record<string, number> = { ms: 0.001, s: 1, sec: 1, m: 60, min: 60, h: 3600 };
  if (/^\d+$/.test(span)) return Number(span);
  let total = 0;
  for (const m of span.matchAll(/(\d+)\s*([a-z]+)/g)) {
    const unit = units[m[2]!];
    if (unit === undefined) throw new Error(`unknown time unit in ${span}`);
    total += Number(m[1]) * unit;
  }
  return total;
}

describe("tec-hub.service", () => {
  const text = readFileSync(UNIT, "utf8");
  const service = section(text, "Service");
  const one = (key: string) => {
    const v = service.get(key);
    expect(v, `${key}= in [Service]`).toBeDefined();
    return v![v!.length - 1]!;
  };

  it("passes systemd-analyze verify, pointed at this machine's node and this checkout's CLI (only ExecStart changed)", () => {
    const here = unitForHere(text, process.execPath, path.join(ROOT, "bin/tec-hub.js"));
    const changed = text.split("\n").filter((line, i) => line !== here.split("\n")[i]);
    expect(changed).toEqual(["ExecStart=/usr/bin/node /opt/tec-hub/bin/tec-hub.js start /etc/tec-hub/config.yaml"]);
    const r = systemdVerify(here, tmp);
    expect(r.out).toBe("");
    expect(r.ok).toBe(true);
  });

  it("fails verify for a missing binary or a misspelt key (the check can fail)", () => {
    expect(systemdVerify(text.replace("ExecStart=/usr/bin/node", "ExecStart=/nonexistent/node"), tmp).ok).toBe(false);
    const misspelt = systemdVerify(unitForHere(text, process.execPath, path.join(ROOT, "bin/tec-hub.js")).replace("NoNewPrivileges=", "NoNewPrivilege="), tmp);
    expect(misspelt.ok).toBe(false);
    expect(misspelt.out).toMatch(/Unknown key/);
  });

  it("keeps every required directive", () => {
    expect(one("ExecStart")).toBe("/usr/bin/node /opt/tec-hub/bin/tec-hub.js start /etc/tec-hub/config.yaml");
    expect(one("User")).toBe("tec-hub");
    expect(one("SupplementaryGroups").split(/\s+/)).toContain("dialout");
    expect(one("StateDirectory")).toBe("tec-hub");
    expect(one("WorkingDirectory")).toBe("/var/lib/tec-hub");
    expect(one("ConfigurationDirectory")).toBe("tec-hub");
    expect(one("ProtectSystem")).toBe("strict");
    expect(one("NoNewPrivileges")).toBe("yes");
    expect(one("Restart")).toBe("on-failure");
    expect(one("KillSignal")).toBe("SIGTERM");
    expect(service.get("Environment")).toContain("TEC_LOG_FORMAT=json");
    // Serial hardware: no private /dev, and the USB serial majors let through.
    expect(one("PrivateDevices")).not.toBe("yes");
    expect(service.get("DeviceAllow")).toEqual(expect.arrayContaining(["char-ttyACM rw", "char-ttyUSB rw"]));
    expect(one("RestrictAddressFamilies").split(/\s+/).sort()).toEqual(["AF_INET", "AF_INET6", "AF_NETLINK", "AF_UNIX"]);
    // V8 needs W+X memory.
    expect(one("MemoryDenyWriteExecute")).toBe("no");
    expect(section(text, "Install").get("WantedBy")).toEqual(["multi-user.target"]);
  });

  it("gives a planned stop more time than the CLI's own deadline", () => {
    // The CLI exits by itself after N s of stopping ("shutdown took longer than N s"); systemd's
    // SIGKILL must come later than that.
    const cli = readFileSync(path.join(ROOT, "hub/src/cli.ts"), "utf8");
    const deadline = /shutdown took longer than (\d+) s/.exec(cli);
    expect(deadline, "the CLI's stop deadline message in hub/src/cli.ts").not.toBeNull();
    expect(seconds(one("TimeoutStopSec"))).toBeGreaterThan(Number(deadline![1]));
  });

  it("scores an exposure of at most 2.0 in systemd-analyze security --offline", () => {
    const folder = mkdtempSync(path.join(tmp, "sec-"));
    writeFileSync(path.join(folder, "tec-hub.service"), text);
    // --threshold is exposure x 10: a regression past 2.0 fails the command itself.
    const r = analyze(["security", "--offline=yes", "--threshold=20", path.join(folder, "tec-hub.service")]);
    const level = /Overall exposure level for tec-hub\.service: (\d+\.\d+)/.exec(r.stdout);
    expect(level, `${r.stdout}${r.stderr}`).not.toBeNull();
    expect(Number(level![1])).toBeLessThanOrEqual(2.0);
    expect(r.status).toBe(0);
  });
});

// --- udev rules ---------------------------------------------------------------------------------

const MATCH_KEYS = /^(ACTION|DEVPATH|KERNEL|KERNELS|NAME|SYMLINK|SUBSYSTEM|SUBSYSTEMS|DRIVER|DRIVERS|TAG|TAGS|TEST|PROGRAM|RESULT|CONST\{[a-z]+\}|ATTR\{[^}]+\}|ATTRS\{[^}]+\}|SYSCTL\{[^}]+\}|ENV\{[^}]+\})$/;
const ASSIGN_KEYS = /^(NAME|SYMLINK|OWNER|GROUP|MODE|TAG|SECLABEL\{[^}]+\}|ATTR\{[^}]+\}|SYSCTL\{[^}]+\}|ENV\{[^}]+\}|RUN\{(program|builtin)\}|RUN|LABEL|GOTO|IMPORT\{[a-z]+\}|OPTIONS)$/;

interface UdevPair {
  key: string;
  op: string;
  value: string;
}

/**
 * A parse check of udev rules for a udevadm without `verify` (systemd 252): every rule line is
 * comma-separated KEY op "value" pairs with known keys, match keys compare (==, !=), assignment
 * keys assign (=, +=, -=, :=). Returns the problems, each naming its line.
 */
function checkUdevRules(text: string): { rules: UdevPair[][]; problems: string[] } {
  const rules: UdevPair[][] = [];
  const problems: string[] = [];
  text.split("\n").forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const pairs: UdevPair[] = [];
    const re = /\s*([A-Z_]+(?:\{[^}]*\})?)\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(,|$)/y;
    let at = 0;
    while (at < line.length) {
      re.lastIndex = at;
      const m = re.exec(line);
      if (m === null) {
        problems.push(`line ${i + 1}: cannot parse from "${line.slice(at)}"`);
        return;
      }
      const [, key, op, value] = m as unknown as [string, string, string, string];
      const isMatch = op === "==" || op === "!=";
      if (isMatch ? !MATCH_KEYS.test(key) : !ASSIGN_KEYS.test(key)) problems.push(`line ${i + 1}: ${key}${op} is not a known ${isMatch ? "match" : "assignment"} key`);
      pairs.push({ key, op, value });
      at = re.lastIndex;
      if (m[4] === "" && at < line.length) break;
    }
    rules.push(pairs);
    const get = (key: string, op: string) => pairs.find((p) => p.key === key && p.op === op)?.value;
    if (get("SUBSYSTEM", "==") !== "tty") problems.push(`line ${i + 1}: no SUBSYSTEM=="tty"`);
    if (!/^[0-9a-f]{4}$/.test(get("ATTRS{idVendor}", "==") ?? "")) problems.push(`line ${i + 1}: ATTRS{idVendor} is not 4 hex digits`);
    if (!/^[0-9a-f]{4}$/.test(get("ATTRS{idProduct}", "==") ?? "")) problems.push(`line ${i + 1}: ATTRS{idProduct} is not 4 hex digits`);
    if (!/^tec\/[a-z0-9-]+$/.test(get("SYMLINK", "+=") ?? "")) problems.push(`line ${i + 1}: no SYMLINK+="tec/<name>"`);
    if (get("GROUP", "=") !== "dialout") problems.push(`line ${i + 1}: GROUP is not "dialout"`);
    for (const mode of pairs.filter((p) => p.key === "MODE")) {
      if ((Number.parseInt(mode.value, 8) & 0o006) !== 0) problems.push(`line ${i + 1}: MODE="${mode.value}" opens the port to every user`);
    }
  });
  return { rules, problems };
}

describe("99-tec-hub.rules", () => {
  const text = readFileSync(RULES, "utf8");

  it("is accepted by udevadm verify where this udevadm has it, and passes the parse check", () => {
    const help = spawnSync("udevadm", ["verify", "--help"], { encoding: "utf8" });
    if (help.error === undefined && help.status === 0) {
      const r = spawnSync("udevadm", ["verify", "--resolve-names=never", RULES], { encoding: "utf8" });
      expect(`${r.stdout}${r.stderr}`, "udevadm verify").not.toMatch(/error|invalid/i);
      expect(r.status).toBe(0);
    }
    const { rules, problems } = checkUdevRules(text);
    expect(problems).toEqual([]);
    const ids = rules.map((r) => `${r.find((p) => p.key === "ATTRS{idVendor}")?.value}:${r.find((p) => p.key === "ATTRS{idProduct}")?.value}`);
    // An Arduino Uno, a CH340 clone, a Prusa printer, an ESP32 with a CP210x.
    expect(ids).toEqual(expect.arrayContaining(["2341:0043", "1a86:7523", "10c4:ea60"]));
    expect(ids.some((id) => id.startsWith("2c99:"))).toBe(true);
    const names = rules.map((r) => r.find((p) => p.key === "SYMLINK")?.value);
    expect(new Set(names).size).toBe(names.length);
  });

  it("the parse check finds a world-writable mode, a wrong operator, an unknown key and a missing group", () => {
    const good = 'SUBSYSTEM=="tty", ATTRS{idVendor}=="2341", ATTRS{idProduct}=="0043", SYMLINK+="tec/x", GROUP="dialout"';
    expect(checkUdevRules(good).problems).toEqual([]);
    expect(checkUdevRules(`${good}, MODE="0666"`).problems.join()).toMatch(/MODE="0666"/);
    expect(checkUdevRules(good.replace('SYMLINK+="tec/x"', 'SYMLINK=="tec/x"')).problems.join()).toMatch(/SYMLINK\+="tec/);
    expect(checkUdevRules(good.replace("ATTRS{idProduct}", "ATRS{idProduct}")).problems.join()).toMatch(/ATRS\{idProduct\}== is not a known match key/);
    expect(checkUdevRules(good.replace(', GROUP="dialout"', "")).problems.join()).toMatch(/GROUP/);
    expect(checkUdevRules(good.replace('"0043",', '"0043"')).problems.join()).toMatch(/cannot parse/);
  });
});

// --- install.sh --root --------------------------------------------------------------------------

/** Every file under `dir`: relative path -> sha256, mode and mtime. */
function snapshot(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else {
        const st = statSync(p);
        out.set(path.relative(dir, p), `${createHash("sha256").update(readFileSync(p)).digest("hex")} ${(st.mode & 0o7777).toString(8)} ${st.mtimeMs}`);
      }
    }
  };
  walk(dir);
  return out;
}

describe("install.sh --root", () => {
  // A frozen copy of this checkout (without node_modules and builds) to install from: the working
  // tree may change while the test runs, and a changed source is, rightly, a changed install.
  const src = path.join(tmp, "src");
  const stage = path.join(tmp, "stage");
  // The node this test runs on comes first in PATH: install.sh writes its path into the unit.
  const env = { ...process.env, PATH: `${path.dirname(process.execPath)}:${process.env.PATH ?? ""}`, DESTDIR: "" };
  const install = (args: string[], extraEnv: NodeJS.ProcessEnv = {}) => {
    const r = spawnSync("bash", [path.join(src, "deploy/install.sh"), ...args], { encoding: "utf8", env: { ...env, ...extraEnv } });
    return { code: r.status, out: `${r.stdout}${r.stderr}` };
  };

  beforeAll(() => {
    const copy = spawnSync("bash", ["-c", `mkdir -p "${src}" && tar -C "${ROOT}" --exclude=./.git --exclude=./node_modules --exclude=./dist --exclude=./dashboard/dist --exclude=./data --exclude=./test-artifacts -cf - . | tar -C "${src}" -xf -`], { encoding: "utf8" });
    if (copy.status !== 0) throw new Error(`copying the checkout failed: ${copy.stderr}`);
  }, 60_000);

  it("stages the unit, the udev rules, the config and the code, and a second run changes nothing", () => {
    const first = install(["--root", stage, "--skip-build"]);
    expect(first.out).toMatch(/staged under/);
    expect(first.code).toBe(0);
    const unit = readFileSync(path.join(stage, "etc/systemd/system/tec-hub.service"), "utf8");
    expect(unit).toBe(readFileSync(UNIT, "utf8").replace("ExecStart=/usr/bin/node ", `ExecStart=${process.execPath} `));
    // The staged unit passes verify as it is (its node is this machine's).
    expect(systemdVerify(unit, tmp)).toEqual({ ok: true, out: "" });
    expect(readFileSync(path.join(stage, "etc/udev/rules.d/99-tec-hub.rules"), "utf8")).toBe(readFileSync(RULES, "utf8"));
    const config = path.join(stage, "etc/tec-hub/config.yaml");
    expect(readFileSync(config, "utf8")).toBe(readFileSync(path.join(src, "config/demo.yaml"), "utf8"));
    expect(statSync(config).mode & 0o777).toBe(0o640);
    for (const f of ["bin/tec-hub.js", "hub/src/cli.ts", "package.json", "package-lock.json", "config/demo.yaml", "deploy/tec-hub.service"]) {
      expect(existsSync(path.join(stage, "opt/tec-hub", f)), f).toBe(true);
    }
    for (const f of ["node_modules", ".git", "data", "dist"]) expect(existsSync(path.join(stage, "opt/tec-hub", f)), f).toBe(false);
    const wrapper = path.join(stage, "usr/local/bin/tec-hub");
    expect(statSync(wrapper).mode & 0o111).not.toBe(0);
    expect(readFileSync(wrapper, "utf8")).toContain(`${process.execPath} /opt/tec-hub/bin/tec-hub.js`);

    // A site edits its config and its rules; a second run keeps both and writes nothing.
    appendFileSync(config, "# edited on site\n");
    appendFileSync(path.join(stage, "etc/udev/rules.d/99-tec-hub.rules"), "# edited on site\n");
    const before = snapshot(stage);
    const second = install(["--root", stage, "--skip-build"]);
    expect(second.code, second.out).toBe(0);
    expect(second.out).toMatch(/up to date/);
    expect(second.out).toMatch(/config\.yaml exists: kept/);
    expect(snapshot(stage)).toEqual(before);

    // A changed source is installed; the edited config still stays.
    appendFileSync(path.join(src, "README.md"), "\nchanged\n");
    const third = install(["--root", stage, "--skip-build"]);
    expect(third.code, third.out).toBe(0);
    expect(readFileSync(path.join(stage, "opt/tec-hub/README.md"), "utf8")).toMatch(/changed\n$/);
    expect(readFileSync(config, "utf8")).toMatch(/# edited on site\n$/);
  }, 120_000);

  it("builds in a new folder and swaps it in; a failed build leaves the installed code as it was", () => {
    // A stand-in npm (the real npm ci downloads and compiles for minutes): it records each call
    // and where it ran, "builds" dist/hub/src/cli.js, and fails when NPM_FAIL is set.
    const fake = mkdtempSync(path.join(tmp, "fake-npm-"));
    const calls = path.join(fake, "calls.log");
    writeFileSync(
      path.join(fake, "npm"),
      `#!/bin/sh\necho "$PWD $*" >>"${calls}"\n[ -z "$NPM_FAIL" ] || exit 1\nif [ "$1 $2" = "run build" ]; then mkdir -p dist/hub/src && echo built >dist/hub/src/cli.js; fi\n`,
    );
    chmodSync(path.join(fake, "npm"), 0o755);
    const built = path.join(tmp, "stage-built");
    const withNpm = { PATH: `${fake}:${env.PATH}` };
    const log = () => (existsSync(calls) ? readFileSync(calls, "utf8").trim().split("\n") : []);

    const first = install(["--root", built], withNpm);
    expect(first.code, first.out).toBe(0);
    expect(log()).toEqual([`${built}/opt/tec-hub.new ci --no-audit --no-fund`, `${built}/opt/tec-hub.new run build`]);
    expect(readFileSync(path.join(built, "opt/tec-hub/dist/hub/src/cli.js"), "utf8")).toBe("built\n");
    expect(existsSync(path.join(built, "opt/tec-hub.new"))).toBe(false);

    // Nothing changed: no build at all.
    rmSync(calls);
    const again = install(["--root", built], withNpm);
    expect(again.code, again.out).toBe(0);
    expect(log()).toEqual([]);

    // A new source whose build fails: the old code stays, the half-built folder goes.
    const readme = readFileSync(path.join(built, "opt/tec-hub/README.md"), "utf8");
    appendFileSync(path.join(src, "README.md"), "\nanother change\n");
    const failed = install(["--root", built], { ...withNpm, NPM_FAIL: "1" });
    expect(failed.code).not.toBe(0);
    expect(failed.out).toMatch(/the build failed; .*opt\/tec-hub is unchanged/);
    expect(readFileSync(path.join(built, "opt/tec-hub/README.md"), "utf8")).toBe(readme);
    expect(existsSync(path.join(built, "opt/tec-hub/dist/hub/src/cli.js"))).toBe(true);
    expect(existsSync(path.join(built, "opt/tec-hub.new"))).toBe(false);
  }, 120_000);

  it("stops with a clear message when node is older than 20.19", () => {
    const fake = mkdtempSync(path.join(tmp, "old-node-"));
    writeFileSync(path.join(fake, "node"), "#!/bin/sh\necho v18.19.0\n");
    chmodSync(path.join(fake, "node"), 0o755);
    const r = install(["--root", path.join(tmp, "stage-old"), "--skip-build"], { PATH: `${fake}:${process.env.PATH ?? ""}` });
    expect(r.code).not.toBe(0);
    expect(r.out).toMatch(/Node\.js v18\.19\.0 .* too old: TEC Hub needs >= 20\.19/);
    expect(existsSync(path.join(tmp, "stage-old/opt/tec-hub"))).toBe(false);
  });
});
