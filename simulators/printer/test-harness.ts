/**
 * For the printer tests: a firmware on a ManualClock with its output split into lines, and a host
 * that numbers and checksums what it sends. Not used outside tests.
 */
import { ManualClock } from "../../hub/src/core/clock.ts";
import { frameLine } from "./gcode.ts";
import { MarlinFirmware, type MarlinOptions } from "./marlin.ts";

export interface Bench {
  fw: MarlinFirmware;
  clock: ManualClock;
  /** Every line received so far (not cleared by `take`). */
  all: string[];
  /** Lines received since the last `take`, and clears them. */
  take(): string[];
  /** Sends raw text plus "\n". */
  send(text: string): void;
  /** Sends `N<next> <cmd>*<cs>`; returns the line number used. */
  sendN(cmd: string): number;
  /** Resets the host's line counter (after `M110 N0` or a reset). */
  setLine(n: number): void;
  /** Advances the clock in 100 ms steps until `pred` holds for the lines since the last take; returns the ms waited. */
  until(pred: (lines: readonly string[]) => boolean, maxMs: number): number;
}

export function bench(opts: Partial<MarlinOptions> = {}): Bench {
  const clock = new ManualClock();
  const all: string[] = [];
  let fresh: string[] = [];
  let partial = "";
  const fw = new MarlinFirmware({
    clock,
    ...opts,
    output: (bytes) => {
      partial += bytes.toString("latin1");
      for (let i = partial.indexOf("\n"); i >= 0; i = partial.indexOf("\n")) {
        const line = partial.slice(0, i);
        partial = partial.slice(i + 1);
        all.push(line);
        fresh.push(line);
      }
    },
  });
  fw.start();
  let n = 0;
  const send = (text: string): void => fw.receive(Buffer.from(`${text}\n`, "latin1"));
  return {
    fw,
    clock,
    all,
    take() {
      const out = fresh;
      fresh = [];
      return out;
    },
    send,
    sendN(cmd) {
      n += 1;
      send(frameLine(n, cmd));
      return n;
    },
    setLine(v) {
      n = v;
    },
    until(pred, maxMs) {
      let waited = 0;
      while (!pred(fresh)) {
        if (waited >= maxMs) throw new Error(`condition not met within ${maxMs} ms; last lines: ${fresh.slice(-5).join(" | ")}`);
        clock.advance(100);
        waited += 100;
      }
      return waited;
    },
  };
}
