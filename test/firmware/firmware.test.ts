/**
 * The board firmware for real: the protocol core's host unit tests, and the Tiny House AVR
 * firmware built with avr-gcc against Debian's Arduino core and run under simavr, spoken to over a
 * pty at the protocol level (firmware-bridge/PROTOCOL.md, "Serial framing"). The hub's serial
 * adapter is not involved: these tests are the board's side of the contract.
 *
 * The emulator runs paced to real time, so a 1 Hz BEAT from this test is 1 Hz for the firmware;
 * leases and the 3 s heartbeat watch are asserted in the emulator's simulated time (`t`).
 */
import { execFile } from "node:child_process";
import { promisify } from "node:util";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { SerialLine } from "../../firmware-bridge/serial/codec.ts";
import { type Board, type BridgeEvent, buildFirmware, HOST_TESTS, isLine, startBoard } from "./avr-board.ts";

const run = promisify(execFile);
const MS = 1000; // simulated time is in microseconds

/** Door shut (reed switch to GND), no leak (probe open: pull-up high), tank at 54 C (TMP36: 1040 mV). */
const NORMAL_INPUTS = ["set D4 0", "set D5 1", "adc 0 1040"];

let board: Board | undefined;

beforeAll(async () => {
  await buildFirmware();
}, 180_000);

afterEach(async () => {
  await board?.close();
  board = undefined;
});

const field = (line: SerialLine, key: string) => line.fields.get(key);

/** Boots the board, waits for HELLO and the whole META, answers WELCOME and starts beating. */
async function welcomed(setup = NORMAL_INPUTS): Promise<Board> {
  board = await startBoard(setup);
  await board.lines.waitFor((l) => isLine(l, "META") && l.fields.has("end"), "META end");
  await board.send("WELCOME", [["proto", 1]]);
  board.startBeats();
  return board;
}

function pinEvent(b: Board, pin: string, level: 0 | 1, from = 0): Promise<BridgeEvent> {
  return b.events.waitFor((e) => e.name === "pin" && e.args[0] === pin && e.args[1] === String(level), `pin ${pin} = ${level}`, 15_000, from);
}

async function ack(b: Board, id: string): Promise<SerialLine> {
  const line = await b.lines.waitFor((l) => isLine(l, "ACK") && l.fields.get("id") === id, `ACK id=${id}`);
  return line as SerialLine;
}

async function pinLevel(b: Board, pin: string): Promise<string> {
  const state = await b.control(`get ${pin}`);
  return `${state.args[1]} ${state.args[2]}`;
}

describe("protocol core (host unit tests)", () => {
  it("passes checksum, codec, handshake, lease and heartbeat tests", async () => {
    const { stdout } = await run(HOST_TESTS, [], { maxBuffer: 1 << 20 }).catch((e: { stdout?: string; message: string }) => {
      throw new Error(`core-tests failed:\n${e.stdout ?? ""}\n${e.message}`);
    });
    expect(stdout).toMatch(/\n\d+ tests, 0 failed\n$/);
    expect(Number(/(\d+) tests/.exec(stdout)?.[1])).toBeGreaterThanOrEqual(30);
  });
});

describe("Tiny House AVR firmware under simavr", () => {
  it("drives the relays safe before main(), then says HELLO and META", async () => {
    board = await startBoard(NORMAL_INPUTS);
    const hello = (await board.lines.waitFor((l) => isLine(l, "HELLO"), "HELLO")) as SerialLine;
    expect(hello.seq).toBe(0);
    expect(field(hello, "proto")).toBe("1");
    expect(field(hello, "model")).toBe("TEC-TH-SERIAL");
    expect(field(hello, "boot")).toBe("1");
    await board.lines.waitFor((l) => isLine(l, "META") && l.fields.has("end"), "META end");
    const meta = board.lines.items.filter((l): l is SerialLine => isLine(l, "META"));
    expect(meta.map((l) => (l.fields.has("end") ? "end" : (l.fields.get("ch") ?? l.fields.get("act"))))).toEqual(["tankTempC", "doorOpen", "leak", "pumpEnable", "heaterEnable", "lightsOn", "end"]);
    expect(meta.map((l) => l.seq)).toEqual([1, 2, 3, 4, 5, 6, 7]);
    const tank = meta[0];
    expect(tank && [field(tank, "unit"), field(tank, "min"), field(tank, "max"), field(tank, "period")]).toEqual(["C", "0", "100", "1000"]);
    const pump = meta[3];
    expect(pump && [field(pump, "safe"), field(pump, "lease"), field(pump, "min"), field(pump, "max")]).toEqual(["0", "10000", "0", "1"]);
    expect(board.lines.items.filter((l) => "bad" in l && l.bad !== "")).toEqual([]);

    // The .init3 code drove each relay low as an output within microseconds of the reset, long
    // before setup() (which starts after the Arduino core's init()).
    const reset = await board.events.waitFor((e) => e.name === "reset", "reset");
    for (const pin of ["D7", "D8", "D9"]) {
      const low = await pinEvent(board, pin, 0);
      expect(low.t - reset.t).toBeLessThan(20);
      expect(await pinLevel(board, pin)).toBe("0 out");
    }
    // Nothing but HELLO is repeated until a WELCOME comes (every 2 s), and no TELE is sent.
    const again = (await board.lines.waitFor((l) => isLine(l, "HELLO") && l.seq > 0, "HELLO again")) as SerialLine;
    expect(again.seq).toBe(8);
    expect(board.lines.items.some((l) => isLine(l, "TELE"))).toBe(false);
  }, 30_000);

  it("after WELCOME sends TELE once a second with the inputs it reads", async () => {
    const b = await welcomed();
    const tele = async (from: number) => (await b.lines.waitFor((l) => isLine(l, "TELE"), "TELE", 15_000, from)) as SerialLine;
    const first = await tele(0);
    const second = await tele(b.lines.items.indexOf(first) + 1);
    const third = await tele(b.lines.items.indexOf(second) + 1);
    const ts = [first, second, third].map((l) => Number(field(l, "ts")));
    expect(ts[1]! - ts[0]!).toBeGreaterThanOrEqual(995);
    expect(ts[1]! - ts[0]!).toBeLessThanOrEqual(1010);
    expect(ts[2]! - ts[1]!).toBeGreaterThanOrEqual(995);
    expect(ts[2]! - ts[1]!).toBeLessThanOrEqual(1010);
    // Within one ADC step (0.49 C) and simavr's rounding of the millivolts.
    expect(Math.abs(Number(field(third, "tankTempC")) - 54)).toBeLessThanOrEqual(1);
    expect(field(third, "doorOpen")).toBe("0");
    expect(field(third, "leak")).toBe("0");

    await b.control("set D4 1"); // the door opens: the reed switch releases, the pull-up wins
    await b.control("adc 0 1250"); // 75 C
    const from = b.lines.items.length;
    const later = (await b.lines.waitFor((l) => isLine(l, "TELE") && field(l, "doorOpen") === "1", "TELE with the door open", 15_000, from)) as SerialLine;
    expect(Math.abs(Number(field(later, "tankTempC")) - 75)).toBeLessThanOrEqual(1);
  }, 30_000);

  it("CMD drives the relay and the lease runs out to safe", async () => {
    const b = await welcomed();
    const from = b.events.items.length;
    await b.send("CMD", [["id", "cmd 1"], ["act", "pumpEnable"], ["value", 1], ["lease", 2000]]);
    const ok = await ack(b, "cmd 1");
    expect(field(ok, "ok")).toBe("1");
    const high = await pinEvent(b, "D7", 1, from);
    const low = await pinEvent(b, "D7", 0, b.events.items.indexOf(high));
    // In the board's own time: held for the lease, then safe at once.
    expect(low.t - high.t).toBeGreaterThanOrEqual(1995 * MS);
    expect(low.t - high.t).toBeLessThanOrEqual(2050 * MS);
    const event = (await b.lines.waitFor((l) => isLine(l, "EVENT"), "EVENT")) as SerialLine;
    expect([field(event, "type"), field(event, "detail")]).toEqual(["actuator-safe", "pumpEnable:lease"]);

    // Refused commands change nothing.
    await b.send("CMD", [["id", "c2"], ["act", "pumpEnable"], ["value", 2], ["lease", 2000]]);
    await b.send("CMD", [["id", "c3"], ["act", "boilerEnable"], ["value", 1], ["lease", 2000]]);
    await b.send("CMD", [["id", "c4"], ["act", "pumpEnable"], ["value", 0.5], ["lease", 2000]]);
    await b.sendRaw("CMD seq=99 id=c5 act=pumpEnable value=1 lease=2000*00\n"); // bad checksum: no answer
    await b.send("CMD", [["id", "c6"], ["act", "lightsOn"], ["value", 1], ["lease", 2000]]);
    expect(field(await ack(b, "c2"), "err")).toBe("out-of-range");
    expect(field(await ack(b, "c3"), "err")).toBe("unknown-actuator");
    expect(field(await ack(b, "c4"), "err")).toBe("bad-value");
    expect(field(await ack(b, "c6"), "ok")).toBe("1");
    expect(b.lines.items.some((l) => isLine(l, "ACK") && field(l, "id") === "c5")).toBe(false);
    expect(await pinLevel(b, "D7")).toBe("0 out");
    expect(await pinLevel(b, "D9")).toBe("1 out");
  }, 30_000);

  it("3 s without BEAT: every relay safe, commands refused with hub-lost until beats resume", async () => {
    const b = await welcomed();
    const from = b.events.items.length;
    await b.send("CMD", [["id", "pump"], ["act", "pumpEnable"], ["value", 1], ["lease", 10000]]);
    await b.send("CMD", [["id", "lights"], ["act", "lightsOn"], ["value", 1], ["lease", 60000]]);
    await pinEvent(b, "D7", 1, from);
    await pinEvent(b, "D9", 1, from);
    b.stopBeats();
    const pumpLow = await pinEvent(b, "D7", 0, from);
    const lightsLow = await pinEvent(b, "D9", 0, from);
    const beats = b.events.items.filter((e) => e.name === "rx-line" && e.args[0] === "BEAT" && e.t < pumpLow.t);
    const lastBeat = beats[beats.length - 1]!;
    // PROTOCOL.md: no BEAT for 3 s -> every actuator safe at once (measured from the moment the
    // last BEAT entered the UART; the firmware reads it a few bytes' time later).
    expect(pumpLow.t - lastBeat.t).toBeGreaterThanOrEqual(2995 * MS);
    expect(pumpLow.t - lastBeat.t).toBeLessThanOrEqual(3050 * MS);
    expect(Math.abs(lightsLow.t - pumpLow.t)).toBeLessThan(5 * MS);
    const lost = (await b.lines.waitFor((l) => isLine(l, "EVENT") && field(l, "type") === "hub-lost", "EVENT hub-lost")) as SerialLine;
    expect(lost).toBeDefined();

    await b.send("CMD", [["id", "again"], ["act", "pumpEnable"], ["value", 1], ["lease", 10000]]);
    expect(field(await ack(b, "again"), "err")).toBe("hub-lost");
    expect(await pinLevel(b, "D7")).toBe("0 out");

    b.startBeats();
    await b.events.waitFor((e) => e.name === "rx-line" && e.args[0] === "BEAT" && e.t > pumpLow.t, "a new BEAT");
    await b.send("CMD", [["id", "resumed"], ["act", "pumpEnable"], ["value", 1], ["lease", 10000]]);
    expect(field(await ack(b, "resumed"), "ok")).toBe("1");
    expect(await pinLevel(b, "D7")).toBe("1 out");
  }, 30_000);

  it("a hung loop is reset by the hardware watchdog into the safe state", async () => {
    const b = await welcomed();
    await b.send("CMD", [["id", "pump"], ["act", "pumpEnable"], ["value", 1], ["lease", 10000]]);
    await pinEvent(b, "D7", 1);
    const hang = await b.control("hang"); // jump into _exit: interrupts off, endless loop
    const reset = await b.events.waitFor((e) => e.name === "reset" && e.args[0] === "cause=watchdog", "the watchdog reset");
    // WDTO_1S: the watchdog's 128 kHz oscillator, 2^17 cycles (1.024 s), from the last wdt_reset().
    expect(reset.t - hang.t).toBeGreaterThan(900 * MS);
    expect(reset.t - hang.t).toBeLessThan(1100 * MS);
    const low = await pinEvent(b, "D7", 0, b.events.items.indexOf(reset));
    expect(low.t - reset.t).toBeLessThan(20);
    const hello = (await b.lines.waitFor((l) => isLine(l, "HELLO") && field(l, "boot") === "2", "HELLO after the reset")) as SerialLine;
    expect(hello.seq).toBe(0);
    const event = (await b.lines.waitFor((l) => isLine(l, "EVENT") && field(l, "type") === "reset", "EVENT reset")) as SerialLine;
    expect(field(event, "detail")).toBe("watchdog");
    // A reset board waits for a new WELCOME: commands are refused until then.
    await b.send("CMD", [["id", "early"], ["act", "pumpEnable"], ["value", 1], ["lease", 10000]]);
    expect(field(await ack(b, "early"), "err")).toBe("not-welcomed");
    expect(await pinLevel(b, "D7")).toBe("0 out");
  }, 30_000);

  it("reopening the port resets the board, as a Uno's DTR line does", async () => {
    const b = await welcomed();
    await b.send("CMD", [["id", "pump"], ["act", "pumpEnable"], ["value", 1], ["lease", 10000]]);
    await pinEvent(b, "D7", 1);
    b.stopBeats();
    const from = b.events.items.length;
    await b.reopen();
    const reset = await b.events.waitFor((e) => e.name === "reset" && e.args[0] === "cause=open", "the reset on open", 15_000, from);
    const low = await pinEvent(b, "D7", 0, from);
    expect(low.t - reset.t).toBeLessThan(20);
    const hello = (await b.lines.waitFor((l) => isLine(l, "HELLO") && field(l, "boot") === "2", "HELLO with boot=2")) as SerialLine;
    expect(hello.seq).toBe(0);
  }, 30_000);

  it("local interlocks hold the pump off during a leak and the heater off when the tank is hot", async () => {
    const b = await welcomed();
    await b.send("CMD", [["id", "pump"], ["act", "pumpEnable"], ["value", 1], ["lease", 10000]]);
    await b.send("CMD", [["id", "heat"], ["act", "heaterEnable"], ["value", 1], ["lease", 10000]]);
    await pinEvent(b, "D7", 1);
    await pinEvent(b, "D8", 1);
    const from = b.events.items.length;
    await b.control("set D5 0"); // water on the leak probe
    await b.control("adc 0 1450"); // 95 C
    await pinEvent(b, "D7", 0, from);
    await pinEvent(b, "D8", 0, from);
    const trips = await b.lines.waitFor((l) => isLine(l, "EVENT") && field(l, "type") === "local-trip" && (field(l, "detail") ?? "").startsWith("pumpEnable"), "local-trip");
    expect(trips).toBeDefined();
    await b.send("CMD", [["id", "pump2"], ["act", "pumpEnable"], ["value", 1], ["lease", 10000]]);
    expect(field(await ack(b, "pump2"), "err")).toBe("inhibited");
    expect(await pinLevel(b, "D7")).toBe("0 out");
  }, 30_000);
});
