import { describe, expect, it } from "vitest";
import { frameLine } from "./gcode.ts";
import { bench } from "./test-harness.ts";

describe("protocol faults", () => {
  it("dontAnswer swallows the next line: no ok, not executed", () => {
    const b = bench();
    b.take();
    b.fw.inject({ kind: "dontAnswer" });
    b.send("M104 S200");
    b.clock.advance(5_000);
    expect(b.take()).toEqual([]);
    expect(b.fw.snapshot().hotend.targetC).toBe(0);
    b.send("M105");
    expect(b.take()).toEqual(["ok T:21.00 /0.00 B:21.00 /0.00 @:0 B@:0"]);
  });

  it("resendStorm asks for the same line again and again before accepting it", () => {
    const b = bench();
    b.take();
    b.fw.inject({ kind: "resendStorm", count: 3 });
    for (let i = 0; i < 3; i++) {
      b.send(frameLine(1, "M105"));
      expect(b.take()).toEqual(["Error:checksum mismatch, Last Line: 0", "Resend: 1", "ok"]);
    }
    b.send(frameLine(1, "M105"));
    expect(b.take()).toEqual(["ok T:21.00 /0.00 B:21.00 /0.00 @:0 B@:0"]);
  });

  it("busyForever never finishes the command but keeps saying busy, until cleared", () => {
    const b = bench();
    b.take();
    b.fw.inject({ kind: "busyForever" });
    b.send("G4 P100");
    b.clock.advance(60_000);
    const lines = b.take();
    expect(lines.length).toBe(30);
    expect(new Set(lines)).toEqual(new Set(["echo:busy: processing"]));
    b.fw.clearFaults();
    expect(b.take()).toEqual(["ok"]);
  });

  it("garbageOutput puts lines of random high bytes on the wire", () => {
    const b = bench({ seed: 3 });
    b.take();
    b.fw.inject({ kind: "garbageOutput", probability: 1 });
    b.send("M105");
    const [junk, reply] = b.take();
    expect([...(junk ?? "x")].every((c) => c.charCodeAt(0) >= 0x80)).toBe(true);
    expect(reply).toBe("ok T:21.00 /0.00 B:21.00 /0.00 @:0 B@:0");
  });

  it("lineNoise corrupts lines; a host that honours Resend still gets every line executed once", () => {
    const b = bench({ seed: 11, plannerSlots: 16 });
    b.send("G91");
    b.send("N0 M110 N0*125");
    b.fw.inject({ kind: "lineNoise", probability: 0.3 });
    b.take();
    const total = 100;
    let next = 1;
    let resends = 0;
    for (let guard = 0; next <= total && guard < 2000; guard++) {
      b.send(frameLine(next, "G1 X1 F6000"));
      b.clock.advance(50);
      const lines = b.take();
      const resend = lines.find((l) => l.startsWith("Resend: "));
      if (resend !== undefined) {
        resends++;
        next = Number(resend.slice("Resend: ".length));
      } else if (lines.includes("ok")) {
        next++;
      }
    }
    b.fw.clearFaults();
    b.send("M400");
    b.send("M114");
    b.clock.advance(10_000);
    expect(next).toBe(total + 1);
    expect(resends).toBeGreaterThan(10);
    expect(b.take()).toContain("X:100.00 Y:0.00 Z:0.00 E:0.00 Count X:8000 Y:0 Z:0");
  });

  it("disconnect asks the owner to drop the link; nothing is heard or said until reset", () => {
    let dropped = 0;
    const b = bench({ onDisconnect: () => dropped++ });
    b.take();
    b.fw.inject({ kind: "disconnect" });
    expect(dropped).toBe(1);
    b.send("M105");
    b.send("M155 S1");
    b.clock.advance(5_000);
    expect(b.take()).toEqual([]);
    expect(b.fw.snapshot().linkDown).toBe(true);
    b.fw.reset();
    b.send("M105");
    expect(b.take().at(-1)).toBe("ok T:21.00 /0.00 B:21.00 /0.00 @:0 B@:0");
  });

  it("kill halts the firmware with Marlin's message", () => {
    const b = bench();
    b.send("M104 S200");
    b.take();
    b.fw.inject({ kind: "kill" });
    expect(b.take()).toEqual(["Error:Printer halted. kill() called!"]);
    expect(b.fw.snapshot()).toMatchObject({ state: "killed", hotend: { targetC: 0 } });
  });

  it("a reset keeps a noisy cable but forgets one-shot faults", () => {
    const b = bench({ seed: 5 });
    b.fw.inject({ kind: "lineNoise", probability: 1 });
    b.fw.inject({ kind: "dontAnswer", count: 5 });
    b.fw.reset();
    b.take();
    b.send(frameLine(1, "M105"));
    const lines = b.take();
    expect(lines).toContain("ok");
    expect(lines.some((l) => l.startsWith("Error:") || l.startsWith("echo:Unknown command"))).toBe(true);
  });
});
