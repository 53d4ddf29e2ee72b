import { describe, expect, it } from "vitest";
import { checksum, frameLine } from "./gcode.ts";
import { BUFSIZE } from "./marlin.ts";
import { bench } from "./test-harness.ts";

const OK_IDLE = "ok T:21.00 /0.00 B:21.00 /0.00 @:0 B@:0";

describe("checksum and framing", () => {
  // The worked examples of shared/reference/protocols-safety.md §1.1.
  it.each([
    ["N0 M110 N0", 125],
    ["N1 M105", 38],
    ["N2 G28", 17],
    ["N3 M104 S210", 101],
    ["N4 M155 S2", 103],
    ["N5 M112", 36],
    ["N42 G1 X10 Y10 F3000", 122],
  ])("%s -> *%i", (body, cs) => {
    expect(checksum(body)).toBe(cs);
  });

  it("frames a command with its line number", () => {
    expect(frameLine(42, "G1 X10 Y10 F3000")).toBe("N42 G1 X10 Y10 F3000*122");
  });
});

describe("boot", () => {
  it("prints Marlin's banner on start and again on reset", () => {
    const b = bench();
    expect(b.take()).toEqual([
      "start",
      "echo: External Reset",
      "Marlin 2.1.2.1 (sim)",
      "echo: Last Updated: 2023-07-02 | Author: (TEC Hub simulator)",
      "echo: Compiled: Jul  2 2023",
      "echo: Free Memory: 2648  PlannerBufferBytes: 1232",
      "echo:SD card ok",
    ]);
    b.fw.reset();
    expect(b.take()[0]).toBe("start");
  });

  it("can send a line of bootloader garbage before start", () => {
    const lines = bench({ bootGarbage: true }).take();
    expect(lines[1]).toBe("start");
    expect([...(lines[0] ?? "")].every((c) => c.charCodeAt(0) >= 0x80)).toBe(true);
  });

  it("loses what arrives while booting", () => {
    const b = bench({ bootMs: 1500 });
    expect(b.take()).toEqual([]);
    b.send("M105");
    b.clock.advance(1500);
    const lines = b.take();
    expect(lines[0]).toBe("start");
    expect(lines).not.toContain(OK_IDLE);
  });
});

describe("line protocol", () => {
  it("accepts numbered, checksummed lines and answers each with one ok after its output", () => {
    const b = bench();
    b.take();
    b.send("N0 M110 N0*125");
    b.setLine(0);
    b.sendN("M105");
    b.sendN("M114");
    expect(b.take()).toEqual(["ok", OK_IDLE, "X:0.00 Y:0.00 Z:0.00 E:0.00 Count X:0 Y:0 Z:0", "ok"]);
  });

  it("answers a checksum mismatch with Marlin's error, a resend of the expected line and ok", () => {
    const b = bench();
    b.take();
    b.send("N0 M110 N0*125");
    b.send("N1 M105*38");
    b.send("N2 G28*18"); // correct is 17
    expect(b.take()).toEqual(["ok", OK_IDLE, "Error:checksum mismatch, Last Line: 1", "Resend: 2", "ok"]);
    b.send("N2 G28*17"); // the resend is accepted
    b.clock.advance(5000);
    expect(b.take()).toEqual(["ok"]);
  });

  it("rejects a line number that is not last + 1", () => {
    const b = bench();
    b.take();
    b.send(frameLine(1, "M105"));
    b.send(frameLine(3, "M105"));
    expect(b.take()).toEqual([OK_IDLE, "Error:Line Number is not Last Line Number+1, Last Line: 1", "Resend: 2", "ok"]);
  });

  it("rejects a line number without a checksum", () => {
    const b = bench();
    b.take();
    b.send("N1 M105");
    expect(b.take()).toEqual(["Error:No Checksum with line number, Last Line: 0", "Resend: 1", "ok"]);
  });

  it("lets M110 set the line number, numbered or not", () => {
    const b = bench();
    b.take();
    b.send("M110 N100");
    b.send(frameLine(101, "M105"));
    b.send(frameLine(7, "M110 N41"));
    b.send(frameLine(42, "M105"));
    expect(b.take()).toEqual(["ok", OK_IDLE, "ok", OK_IDLE]);
    expect(b.fw.snapshot().lastLine).toBe(42);
  });

  it("accepts lines without number or checksum, strips comments, and ignores empty lines", () => {
    const b = bench();
    b.take();
    b.send("M105 ; how hot?");
    b.send("; only a comment");
    b.send("");
    b.send("   ");
    expect(b.take()).toEqual([OK_IDLE]);
  });

  it("warns about unknown commands and still acknowledges them", () => {
    const b = bench();
    b.take();
    b.sendN("M9999 S1");
    b.send("hello");
    expect(b.take()).toEqual(['echo:Unknown command: "M9999 S1"', "ok", 'echo:Unknown command: "hello"', "ok"]);
  });

  it("prints M115 with the capability lines before the ok", () => {
    const b = bench({ uuid: "00000000-0000-4000-8000-000000000000" });
    b.take();
    b.send("M115");
    const lines = b.take();
    expect(lines[0]).toBe(
      "FIRMWARE_NAME:Marlin 2.1.2.1 (sim) SOURCE_CODE_URL:github.com/MarlinFirmware/Marlin PROTOCOL_VERSION:1.0 MACHINE_TYPE:TEC Sim Printer EXTRUDER_COUNT:1 UUID:00000000-0000-4000-8000-000000000000",
    );
    for (const cap of ["AUTOREPORT_TEMP:1", "EMERGENCY_PARSER:1", "BUSY_PROTOCOL:1", "THERMAL_PROTECTION:1", "PROGRESS:1", "PRINT_JOB:1", "AUTOREPORT_POS:0", "SDCARD:0"]) {
      expect(lines).toContain(`Cap:${cap}`);
    }
    expect(lines.slice(1, -1).every((l) => /^Cap:[A-Z0-9_]+:[01]$/.test(l))).toBe(true);
    expect(lines[lines.length - 1]).toBe("ok");
  });

  it("accepts M73 progress and M117 messages silently", () => {
    const b = bench();
    b.take();
    b.send("M73 P25 R43");
    b.send("M117 Hello class");
    expect(b.take()).toEqual(["ok", "ok"]);
    expect(b.fw.snapshot().progress).toEqual({ percent: 25, remainingMin: 43 });
    expect(b.fw.snapshot().message).toBe("Hello class");
  });
});

describe("flow control", () => {
  it("acknowledges moves while the planner has room, then only when a slot frees", () => {
    const b = bench({ plannerSlots: 4 });
    b.take();
    b.send("G1 X10 F600"); // 10 mm at 10 mm/s: 1 s each
    for (const x of [0, 10, 0]) b.send(`G1 X${x}`);
    expect(b.take()).toEqual(["ok", "ok", "ok", "ok"]);
    b.send("G1 X10");
    b.clock.advance(999);
    expect(b.take()).toEqual([]);
    b.clock.advance(1);
    expect(b.take()).toEqual(["ok"]);
    expect(b.fw.snapshot().plannerMoves).toBe(4);
  });

  it("keeps at most BUFSIZE commands and leaves further lines in the RX buffer", () => {
    const b = bench({ plannerSlots: 1 });
    b.take();
    for (let i = 0; i < BUFSIZE + 2; i++) b.send(`G1 X${(i + 1) * 10} F600`);
    expect(b.take()).toEqual(["ok"]);
    expect(b.fw.snapshot().commandsQueued).toBe(BUFSIZE);
    b.clock.advance(60_000);
    expect(b.take()).toEqual(Array<string>(BUFSIZE + 1).fill("ok"));
    expect(b.fw.snapshot().position.x).toBe(60);
  });

  it("loses bytes beyond the 128-byte RX buffer, as a UART without flow control would", () => {
    const b = bench({ plannerSlots: 1 });
    b.take();
    let burst = "";
    for (let i = 1; i <= 20; i++) burst += `${frameLine(i, `G1 X${i} F6000`)}\n`;
    b.fw.receive(Buffer.from(burst));
    b.clock.advance(10_000);
    const got = b.fw.snapshot();
    expect(got.rxOverflowBytes).toBe(burst.length - 128);
    expect(got.lastLine).toBeLessThan(10);
    b.take();
    b.send(frameLine(21, "G1 X21")); // joins the torn line left in the buffer
    expect(b.take()).toEqual([expect.stringMatching(/^Error:/), `Resend: ${got.lastLine + 1}`, "ok"]);
  });

  it("says busy every 2 s during M400 and G28, and M113 changes the interval", () => {
    const b = bench();
    b.take();
    b.send("G1 X100 F600"); // 10 s
    b.send("M400");
    expect(b.take()).toEqual(["ok"]);
    b.clock.advance(10_000);
    expect(b.take()).toEqual(Array<string>(5).fill("echo:busy: processing").concat("ok"));
    b.send("M113 S1");
    b.send("G28"); // 100 mm at 50 mm/s + bumps: 2.3 s + 1.3 s
    b.until((l) => l.filter((x) => x === "ok").length === 2, 10_000);
    expect(b.take()).toEqual(["ok", "echo:busy: processing", "echo:busy: processing", "echo:busy: processing", "ok"]);
    b.send("M113");
    expect(b.take()).toEqual(["echo:M113 S1", "ok"]);
    b.send("M113 S0");
    b.send("G1 X100 F600"); // 10 s, and not a word of busy
    b.send("M400");
    b.clock.advance(10_000);
    expect(b.take()).toEqual(["ok", "ok", "ok"]);
  });

  it("dwells for G4 after the planner empties", () => {
    const b = bench();
    b.take();
    b.send("G1 X10 F600");
    b.send("G4 P500");
    expect(b.take()).toEqual(["ok"]);
    b.clock.advance(1499);
    expect(b.take()).toEqual([]);
    b.clock.advance(1);
    expect(b.take()).toEqual(["ok"]);
  });
});

describe("temperatures", () => {
  it("M155 auto-reports without ok until S0", () => {
    const b = bench();
    b.take();
    b.send("M155 S2");
    expect(b.take()).toEqual(["ok"]);
    b.clock.advance(4000);
    expect(b.take()).toEqual([" T:21.00 /0.00 B:21.00 /0.00 @:0 B@:0", " T:21.00 /0.00 B:21.00 /0.00 @:0 B@:0"]);
    b.send("M155 S0");
    b.clock.advance(10_000);
    expect(b.take()).toEqual(["ok"]);
  });

  it("M109 heats with full power, prints temperatures every second and busy every two, then ok", () => {
    const b = bench();
    b.take();
    b.send("M109 S200");
    const waited = b.until((l) => l.includes("ok"), 120_000);
    const lines = b.take();
    const temps = lines.filter((l) => l.startsWith(" T:"));
    expect(temps[0]).toBe(" T:21.00 /200.00 B:21.00 /0.00 @:0 B@:0 W:?");
    expect(temps[5]).toMatch(/^ T:\d+\.\d\d \/200\.00 B:21\.00 \/0\.00 @:127 B@:0 W:\?$/);
    expect(temps.at(-1)).toMatch(/ W:[01]$/);
    expect(temps.length).toBeGreaterThanOrEqual(Math.floor(waited / 1000) - 1);
    expect(lines.filter((l) => l === "echo:busy: processing").length).toBe(Math.floor(waited / 2000));
    expect(lines.at(-1)).toBe("ok");
    // ~2 °C/s near 200 °C: a minute to get there, ten seconds of residency.
    expect(waited).toBeGreaterThan(55_000);
    expect(waited).toBeLessThan(90_000);
    expect(Math.abs(b.fw.snapshot().hotend.readingC - 200)).toBeLessThan(1.5); // PID overshoot ~1 °C
  });

  it("M190 R also waits for cooling; S does not", () => {
    const b = bench();
    b.take();
    b.send("M190 S60");
    b.until((l) => l.includes("ok"), 300_000);
    b.take();
    b.send("M190 S40");
    expect(b.take()).toEqual(["ok"]);
    b.send("M190 R40");
    const waited = b.until((l) => l.includes("ok"), 300_000);
    expect(waited).toBeGreaterThan(10_000);
    expect(b.fw.snapshot().bed.readingC).toBeLessThan(41);
  });

  it("M108 breaks a heating wait", () => {
    const b = bench();
    b.take();
    b.send("M109 S200");
    b.clock.advance(3000);
    b.send("M108");
    expect(b.take().slice(-2)).toEqual(["ok", "ok"]);
    expect(b.fw.snapshot().hotend.targetC).toBe(200);
  });
});

describe("emergency commands", () => {
  it("M112 kills at once even behind a full queue, with or without checksum; reset revives", () => {
    for (const m112 of ["M112", frameLine(1, "M112")]) {
      const b = bench({ plannerSlots: 1 });
      b.send("M104 S200");
      for (let i = 0; i < 6; i++) b.send(`G1 X${i * 50} F600`);
      b.take();
      b.send(m112);
      expect(b.take()).toEqual(["echo:EMERGENCY SHUTDOWN DETECTED. KILLED.", "Error:Printer halted. kill() called!"]);
      expect(b.fw.snapshot().hotend.targetC).toBe(0);
      b.send("M105");
      b.clock.advance(60_000);
      expect(b.take()).toEqual([]);
      expect(b.fw.snapshot().state).toBe("killed");
      b.fw.reset();
      b.send("M105");
      expect(b.take().slice(-1)[0]).toMatch(/^ok T:/);
    }
  });

  it("M410 stops the planner where the nozzle is", () => {
    const b = bench();
    b.send("G1 X100 F600");
    b.clock.advance(2500);
    b.send("M410");
    b.send("M114");
    expect(b.take().slice(-2)).toEqual(["X:25.00 Y:0.00 Z:0.00 E:0.00 Count X:2000 Y:0 Z:0", "ok"]);
  });

  it("M999 restarts a stopped printer with Marlin's resend and two oks", () => {
    const b = bench();
    b.send("N0 M110 N0*125");
    b.setLine(0);
    b.sendN("M104 S200");
    b.take();
    b.fw.inject({ kind: "stop" });
    expect(b.take()).toEqual([
      "Error:Printer stopped due to errors. Fix the error and use M999 to restart. (Temperature is reset. Set it after restarting)",
    ]);
    b.sendN("G1 X10");
    expect(b.take()).toEqual(["Printer stopped due to errors. Fix the error and use M999 to restart. (Temperature is reset. Set it after restarting)", "ok"]);
    b.sendN("M999");
    expect(b.take()).toEqual(["Resend: 4", "ok", "ok"]);
    expect(b.fw.snapshot().state).toBe("running");
    expect(b.fw.snapshot().position.x).toBe(0);
  });
});
