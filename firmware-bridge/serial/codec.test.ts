import { describe, expect, it } from "vitest";
import { LineSplitter, decodeLine, decodeText, encodeLine, encodeText, isDecodeError, lineChecksum } from "./codec.ts";

describe("serial framing", () => {
  it("checksums like NMEA 0183", () => {
    // $GPGLL,5057.970,N,00146.110,E,142451,A*27 from the NMEA examples, without the $.
    expect(lineChecksum("GPGLL,5057.970,N,00146.110,E,142451,A")).toBe("27");
  });

  it.each([
    ["TELE", 42, [["ts", 123456], ["tankTempC", 54.2], ["leak", 0]]],
    ["META", 2, [["ch", "tankTempC"], ["unit", "°C"], ["min", 0], ["max", 100], ["period", 1000], ["label", "Boiler temperatuur"]]],
    ["ACK", 12, [["id", "7"], ["ok", 0], ["err", "value 5 is outside 0..1"]]],
    ["BEAT", 0, []],
  ] as const)("round-trips %s", (type, seq, fields) => {
    const line = encodeLine(type, seq, fields);
    expect(line).not.toContain("\n");
    const back = decodeLine(line);
    if (isDecodeError(back)) throw new Error(back.message);
    expect(back.type).toBe(type);
    expect(back.seq).toBe(seq);
    expect([...back.fields.entries()]).toEqual(fields.map(([k, v]) => [k, String(v)]));
  });

  it("is readable in a serial monitor", () => {
    expect(encodeLine("TELE", 42, [["ts", 123456], ["tankTempC", 54.2], ["leak", 0]])).toMatch(/^TELE seq=42 ts=123456 tankTempC=54\.2 leak=0\*[0-9A-F]{2}$/);
    expect(encodeText("Boiler temperatuur 100%")).toBe("Boiler%20temperatuur%20100%25");
    expect(decodeText("Boiler%20temperatuur")).toBe("Boiler temperatuur");
    expect(encodeText("°C")).toBe("%C2%B0C");
    expect(decodeText("%C2%B0C")).toBe("°C");
    expect(decodeText("100%")).toBe("100%");
  });

  it.each([
    ["TELE seq=1 a=1", "no-checksum"],
    ["TELE seq=1 a=1*00", "bad-checksum"],
    [`${"X".repeat(300)}*00`, "too-long"],
    [encodeLine("TELE", 1, []).replace("TELE", "BOGUS").replace(/\*..$/, ""), "no-checksum"],
    ["\u00ff\u0001garbage", "no-checksum"],
  ])("refuses %j as %s", (line, code) => {
    const r = decodeLine(line);
    expect(isDecodeError(r) && r.code).toBe(code);
  });

  it("refuses unknown types, malformed fields and a missing seq", () => {
    const body = (b: string) => `${b}*${lineChecksum(b)}`;
    expect(decodeLine(body("BOGUS seq=1"))).toMatchObject({ code: "bad-type" });
    expect(decodeLine(body("TELE seq=1 nonsense"))).toMatchObject({ code: "bad-field" });
    expect(decodeLine(body("TELE a=1"))).toMatchObject({ code: "no-seq" });
    expect(decodeLine(body("TELE seq=-1"))).toMatchObject({ code: "no-seq" });
  });

  it("splits a byte stream into lines, whole or in pieces, and drops a line that never ends", () => {
    const lines: string[] = [];
    const overflows: number[] = [];
    const s = new LineSplitter((l) => lines.push(l), (n) => overflows.push(n));
    s.push("HEL");
    s.push("LO seq=0*00\r\nTELE");
    s.push(" seq=1*00\n\n");
    expect(lines).toEqual(["HELLO seq=0*00", "TELE seq=1*00"]);
    s.push("x".repeat(1000));
    expect(overflows).toEqual([1000]);
    s.push("BEAT seq=2*00\n");
    expect(lines.at(-1)).toBe("BEAT seq=2*00");
  });
});
