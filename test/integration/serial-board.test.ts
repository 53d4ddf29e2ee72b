/**
 * Serial boards over real pseudo-terminals: a board joins, streams, obeys a command and
 * acknowledges; unplug and replug without restarting the hub; garbage and bad checksums are
 * refused and counted; a board that reboots mid-stream; a refused protocol version; releasing
 * the port for flashing and taking it back.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { DeviceView } from "../../hub/src/core/types.ts";
import { openPtyPair, type PtyPair } from "../../simulators/common/pty-pair.ts";
import { SerialBoardSim } from "../../simulators/serial-board/index.ts";
import { bootHarness, type Harness, until } from "./harness.ts";
import { staff } from "./safety-world.ts";

describe("serial boards", () => {
  let h: Harness | undefined;
  let pty: PtyPair | undefined;
  let board: SerialBoardSim | undefined;
  afterEach(async () => {
    await h?.close();
    await board?.stop();
    await pty?.close();
    h = undefined;
    board = undefined;
    pty = undefined;
  });

  async function boot(proto?: number) {
    pty = await openPtyPair();
    board = new SerialBoardSim({ pty, periodMs: 200, ...(proto !== undefined ? { proto } : {}) });
    await board.start();
    h = await bootHarness({
      devices: [{ kind: "serial", id: "cupboard", name: "Technische kast", url: board.url, simulated: true }],
      users: [{ name: "tech", role: "technician", password: "technician" }],
    });
    return { h, board };
  }

  const view = async (hh: Harness) => (await hh.get<{ result: DeviceView }>("/api/devices/cupboard")).body.result;

  it("joins, streams, obeys a command and acknowledges it", async () => {
    const { h: hh, board: b } = await boot();
    const ready = await until(async () => {
      const v = await view(hh);
      return v.state === "ready" ? v : undefined;
    }, 10_000, "board ready");
    expect(ready.model).toBe("TEC-TH-SERIAL-SIM");
    expect(ready.channels.cupboardTempC).toMatchObject({ unit: "°C", quality: "ok", label: "Temperatuur technische kast" });
    expect(ready.actuators.lightsEnable).toMatchObject({ safe: 0, leaseMs: 10_000 });
    const tech = await staff(hh, "tech");
    const r = await tech("actuator.start", { device: "cupboard", actuator: "lightsEnable", value: 1 });
    expect(r.body).toMatchObject({ ok: true });
    expect(b.relay("lightsEnable")).toBe(1);
    const stop = await tech("actuator.stop", { device: "cupboard", actuator: "lightsEnable" });
    expect(stop.body.ok).toBe(true);
    expect(b.relay("lightsEnable")).toBe(0);
  });

  it("goes offline when unplugged and ready again when plugged back in, without a hub restart", async () => {
    const { h: hh, board: b } = await boot();
    await until(async () => (await view(hh)).state === "ready", 10_000, "ready");
    await b.unplug();
    await until(async () => (await view(hh)).state === "offline", 10_000, "offline");
    await b.replug();
    await until(async () => (await view(hh)).state === "ready", 15_000, "ready again");
  });

  it("refuses and counts garbage and bad checksums, and keeps the good lines", async () => {
    const { h: hh, board: b } = await boot();
    await until(async () => (await view(hh)).state === "ready", 10_000, "ready");
    b.faults.garbage = 0.5;
    b.faults.badChecksum = 0.3;
    const v = await until(async () => {
      const x = await view(hh);
      return (x.rejectsByCode["bad-line"] ?? 0) >= 5 ? x : undefined;
    }, 10_000, "bad lines counted");
    expect(v.recentRejects.some((r) => /bad-checksum|no-checksum/.test(r.message))).toBe(true);
    b.faults.garbage = 0;
    b.faults.badChecksum = 0;
    await until(async () => (await view(hh)).state === "ready", 10_000, "ready despite the noise");
  });

  it("notices a board that reboots mid-stream", async () => {
    const { h: hh, board: b } = await boot();
    await until(async () => (await view(hh)).state === "ready", 10_000, "ready");
    b.reboot();
    const v = await until(async () => {
      const x = await view(hh);
      return x.counters.reboots === 1 && x.state === "ready" ? x : undefined;
    }, 10_000, "reboot counted");
    expect(v.boot).toBe(2);
  });

  it("refuses a board that speaks another protocol version, and says so", async () => {
    const { h: hh } = await boot(2);
    const v = await until(async () => {
      const x = await view(hh);
      return (x.rejectsByCode["bad-line"] ?? 0) > 0 ? x : undefined;
    }, 10_000, "refusal counted");
    expect(v.recentRejects.some((r) => /protocol 2.*refused/.test(r.message))).toBe(true);
    expect(v.state).not.toBe("ready");
  });

  it("releases the port for flashing and takes it back", async () => {
    const { h: hh } = await boot();
    await until(async () => (await view(hh)).state === "ready", 10_000, "ready");
    const tech = await staff(hh, "tech");
    expect((await tech("port.release", { device: "cupboard" })).body.ok).toBe(true);
    await until(async () => (await view(hh)).state === "offline", 5000, "offline while released");
    // Released means released: it stays closed.
    await new Promise((r) => setTimeout(r, 1500));
    expect((await view(hh)).state).toBe("offline");
    expect((await tech("port.reclaim", { device: "cupboard" })).body.ok).toBe(true);
    await until(async () => (await view(hh)).state === "ready", 10_000, "ready after reclaim");
  });
});
