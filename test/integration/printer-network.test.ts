/**
 * Network printers behind a printer station, through the whole hub: each of the five protocols'
 * simulators on real sockets, its driver, the station, the interlocks and the REST commands. What
 * the drivers do on their wire is in test/integration/printer-<protocol>.test.ts; here: the same
 * station behaviour for all of them (start from the catalogue, the e-stop, a printer lost mid-print
 * is a latched trip and its orphaned job is cancelled when it returns, refused credentials are said,
 * the printer's own door forbids a start where it reports one, a heater fault latches a trip).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { StationView } from "../../hub/src/core/stations/stations.ts";
import { NET_PRINTER_PROTOCOLS, type NetPrinterProtocol, type NetPrinterSimHandle, startNetPrinterSim } from "../../simulators/printer-net/index.ts";
import { bootHarness, type Harness, until } from "./harness.ts";
import { interlock, staff } from "./safety-world.ts";

/** Heat, home, a few layers of moves: seconds at the simulator's speed. */
function model(layers: number): string {
  const lines = ["M140 S50", "M104 S200", "M190 S50", "M109 S200", "G28", "G92 E0"];
  for (let l = 1; l <= layers; l++) {
    lines.push(`;LAYER:${l}`, `G1 Z${(l * 0.2).toFixed(1)} F600`);
    for (const [x, y] of [
      [100, 100],
      [120, 100],
      [120, 120],
      [100, 120],
    ] as const) {
      lines.push(`G1 X${x} Y${y} E${(l * 0.5).toFixed(2)} F3000`);
    }
  }
  lines.push("M104 S0", "M140 S0", "G28 X0", "M84");
  return `${lines.join("\n")}\n`;
}

const ID = "printer-n";
/** The protocols whose printer reports its own door (Bambu Lab X1 family, Klipper with a door button); the others need an MQTT contact. */
const DOOR_REPORTED: ReadonlySet<NetPrinterProtocol> = new Set(["bambu-lan", "moonraker"]);

describe.each(NET_PRINTER_PROTOCOLS.map((p) => [p]))("a %s printer behind a station", (protocol: NetPrinterProtocol) => {
  let h: Harness | undefined;
  let sim: NetPrinterSimHandle | undefined;
  let dir = "";

  async function boot(opts: { door?: boolean; refuse?: boolean } = {}): Promise<Harness> {
    dir = mkdtempSync(path.join(os.tmpdir(), `tec-netprinter-${protocol}-`));
    const catalogue = path.join(dir, "catalogue");
    mkdirSync(catalogue);
    writeFileSync(path.join(catalogue, "tiny.gcode"), model(3));
    writeFileSync(path.join(catalogue, "long.gcode"), model(400));
    sim = await startNetPrinterSim(protocol, { machineOptions: { speedFactor: 20, heatFactor: 20 }, reportIntervalMs: 250 });
    if (opts.refuse === true) sim.refuseCredentials(true);
    h = await bootHarness({
      devices: [
        {
          kind: "printer",
          id: ID,
          name: "Netwerkprinter",
          nameEn: "Network printer",
          protocol,
          url: sim.url,
          auth: sim.auth,
          simulated: true,
          catalogue,
          lostAfterS: 3,
          ...(opts.door === true ? { door: `${ID}.doorOpen` } : {}),
        },
      ],
      users: [
        { name: "juf", role: "instructor", pin: "1234" },
        { name: "tech", role: "technician", password: "technician" },
      ],
    });
    return h;
  }

  afterEach(async () => {
    await h?.close();
    await sim?.stop();
    rmSync(dir, { recursive: true, force: true });
    h = undefined;
    sim = undefined;
  });

  const station = async (hh: Harness) => (await hh.get<{ result: StationView }>(`/api/stations/${ID}`)).body.result;
  const ready = (hh: Harness) => until(async () => (await station(hh)).state === "idle" && (await station(hh)).startable.ok, 30_000, "printer connected and startable");
  const jobs = async (hh: Harness) => (await hh.get<{ result: Array<{ program: string; state: string; reason: string | null; actor: string }> }>(`/api/jobs?station=${ID}`)).body.result;

  it("prints a catalogue model, shows its protocol, and the e-stop stops the printer; the reset starts nothing", async () => {
    const hh = await boot();
    await ready(hh);
    const v0 = await station(hh);
    expect(v0.catalogue).toEqual(["long", "tiny"]);
    expect(v0.details.protocol).toBe(protocol);
    const device = (await hh.get<{ result: { protocol?: string; kind: string } }>(`/api/devices/${ID}`)).body.result;
    expect(device).toMatchObject({ kind: "printer", protocol });
    const juf = await staff(hh, "juf");
    const r = await juf("station.start", { station: ID, program: "long" });
    expect(r.body, JSON.stringify(r.body)).toMatchObject({ ok: true });
    await until(() => sim?.machine.status().job === "printing", 30_000, "the printer prints");
    const running = await until(async () => {
      const v = await station(hh);
      return v.state === "running" && (v.progress?.pct ?? 0) > 0 ? v : undefined;
    }, 30_000, "progress at the hub");
    expect(running.program).toBe("long");

    expect((await juf("estop.trigger")).body.ok).toBe(true);
    await until(() => sim?.machine.status().job !== "printing", 15_000, "the printer stopped printing");
    await until(() => (sim?.machine.status().hotend.target ?? 1) === 0, 15_000, "the hotend heater is off");
    await until(async () => (await station(hh)).state === "faulted" || (await station(hh)).state === "idle", 10_000, "station no longer running");
    const j = await until(async () => (await jobs(hh))[0], 5000, "job recorded");
    expect(j).toMatchObject({ program: "long", state: "failed", actor: "juf" });
    expect(j.reason).toMatch(/emergency stop/);
    expect((await juf("interlock.reset", { id: "estop" })).body.ok).toBe(true);
    if (protocol === "ultimaker") {
      // An Ultimaker waits after every job until a person clears the plate and confirms on its screen: the station says so.
      const waiting = await until(async () => {
        const v = await station(hh);
        return v.state === "idle" && !v.startable.ok ? v : undefined;
      }, 30_000, "the plate to clear, said by the station");
      expect(!waiting.startable.ok && waiting.startable.reason.en).toMatch(/build plate/);
      (sim as unknown as { clearPlate(): void }).clearPlate();
    }
    await ready(hh);
    expect((await station(hh)).program).toBeNull();
    expect(sim?.machine.status().job).not.toBe("printing");
  }, 180_000);

  it("a printer that goes silent mid-print is a latched trip; when it returns still printing, the lost job is cancelled; the reset starts nothing", async () => {
    const hh = await boot();
    await ready(hh);
    const juf = await staff(hh, "juf");
    expect((await juf("station.start", { station: ID, program: "long" })).body.ok).toBe(true);
    await until(async () => (await station(hh)).state === "running", 30_000, "running at the hub");
    await until(() => sim?.machine.status().job === "printing", 30_000, "the printer prints");
    sim?.setSilent(true);
    const trip = await until(async () => {
      const t = await interlock(hh, `${ID}-fault`);
      return t.status === "tripped" ? t : undefined;
    }, 20_000, "lost-printer trip");
    expect(trip.latched).toBe(true);
    const j = await until(async () => (await jobs(hh))[0], 5000, "job recorded");
    expect(j.state).toBe("failed");
    expect(j.reason).toMatch(/went away/);
    // The simulated printer printed on meanwhile, as a real one does without its host.
    expect(sim?.machine.status().job).toBe("printing");
    sim?.setSilent(false);
    await until(() => sim?.machine.status().job === "cancelled", 30_000, "the orphaned job cancelled when the printer returned");
    const login = (await (await fetch(`${hh.httpUrl}/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "tech", secret: "technician" }) })).json()) as { result: { token: string } };
    const audit = await until(async () => {
      const r = (await (await fetch(`${hh.httpUrl}/api/audit?action=printer.orphanCancelled&limit=10`, { headers: { authorization: `Bearer ${login.result.token}` } })).json()) as { result: { records: Array<{ target: string }> } };
      return r.result.records.length > 0 ? r.result.records : undefined;
    }, 10_000, "the cancel audited");
    expect(audit[0]?.target).toBe(ID);
    const tech = await staff(hh, "tech");
    await until(async () => (await tech("interlock.reset", { id: `${ID}-fault` })).body.ok, 15_000, "reset accepted once the printer is back");
    // An Ultimaker waits for its plate to be cleared after the cancelled job (a person at the printer).
    if (protocol === "ultimaker") (sim as unknown as { clearPlate(): void }).clearPlate();
    await ready(hh);
    expect(sim?.machine.status().job).toBe("cancelled");
  }, 180_000);

  it("refused credentials: the station says why, the secret is nowhere in what it says, and it keeps trying", async () => {
    // The simulator refuses the credentials the config gives, from before the hub's first try.
    const hh = await boot({ refuse: true });
    const v = await until(async () => {
      const s = await station(hh);
      return s.details.lastError !== null && s.details.lastError !== undefined ? s : undefined;
    }, 30_000, "an error for the technician");
    expect(v.state).toBe("offline");
    expect(String(v.details.lastError)).toMatch(/refus|credential|401|403|denied|unauthori[sz]ed|key|code/i);
    const everything = JSON.stringify([v, (await hh.get(`/api/devices/${ID}`)).body]);
    for (const secret of Object.values(sim?.auth ?? {})) if (typeof secret === "string" && secret.length >= 6) expect(everything).not.toContain(secret);
    const juf = await staff(hh, "juf");
    expect((await juf("station.start", { station: ID, program: "tiny" })).body.ok).toBe(false);
  }, 180_000);

  it.runIf(DOOR_REPORTED.has(protocol))("the printer's own door (`door: <id>.doorOpen`): open forbids a start with a readable reason, and opening it mid-print pauses", async () => {
    const hh = await boot({ door: true });
    await ready(hh);
    const juf = await staff(hh, "juf");
    sim?.machine.setDoor(true);
    await until(async () => (await interlock(hh, `${ID}-door`)).status === "tripped", 15_000, "door rule");
    const refused = await juf("station.start", { station: ID, program: "long" });
    expect(refused.body).toMatchObject({ ok: false, code: "INTERLOCK_TRIPPED" });
    expect(!refused.body.ok && refused.body.reason?.en).toMatch(/door/i);
    sim?.machine.setDoor(false);
    await until(async () => (await interlock(hh, `${ID}-door`)).status === "normal", 15_000, "door closed");
    await ready(hh);
    expect((await juf("station.start", { station: ID, program: "long" })).body.ok).toBe(true);
    await until(() => sim?.machine.status().job === "printing", 30_000, "printing");
    await until(async () => (await station(hh)).state === "running", 30_000, "running at the hub");
    sim?.machine.setDoor(true);
    await until(async () => (await station(hh)).state === "paused", 15_000, "paused by the door");
    expect(sim?.machine.status().job).toBe("paused");
  }, 180_000);

  it("a heater fault the printer reports halts it and latches a trip that says why", async () => {
    const hh = await boot();
    await ready(hh);
    const juf = await staff(hh, "juf");
    expect((await juf("station.start", { station: ID, program: "long" })).body.ok).toBe(true);
    await until(() => sim?.machine.status().job === "printing", 30_000, "printing");
    sim?.machine.inject({ kind: "sensorOpen", heater: "hotend" });
    // Tripped, or already "cleared" (latched, waiting for a reset): the hub cannot see a halted
    // printer's cause go, so these rules have no condition of their own (as for Marlin, printer.test.ts).
    const tripped = (v: { status: string }) => v.status !== "normal" && v.status !== "waiting";
    const trip = await until(async () => {
      const t = await interlock(hh, `${ID}-firmware`);
      const w = await interlock(hh, `${ID}-thermal`);
      return tripped(t) ? t : tripped(w) ? w : undefined;
    }, 30_000, "a printer trip");
    expect(trip.latched).toBe(true);
    await until(async () => (await station(hh)).state === "faulted", 10_000, "faulted");
    expect((await juf("station.start", { station: ID, program: "tiny" })).body.ok).toBe(false);
  }, 180_000);
});
