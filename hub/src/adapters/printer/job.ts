/**
 * A print job: a G-code file analysed up front (lines, layers, an estimate of its duration from
 * the moves' distances and feed rates, the heat it asks for) and streamed through the driver's
 * job queue one acknowledged line at a time, with pause (park), resume (unpark) and cancel (park,
 * heaters off, motors off).
 */
import type { Clock } from "../../core/clock.ts";
import { HubError } from "../../core/errors.ts";
import { HEATING, commandWord, heatingTarget, stripComment } from "./gcode.ts";
import type { MarlinDriver } from "./marlin-driver.ts";

export interface JobAnalysis {
  commands: string[];
  /** Layer number at each command (from `;LAYER:` comments, else from rising Z). */
  layerAt: Int32Array;
  layers: number;
  /** Estimated seconds elapsed at the start of each command. */
  secondsAt: Float64Array;
  estimatedS: number;
  maxHotendC: number;
  maxBedC: number;
}

export function analyseGcode(text: string): JobAnalysis {
  const commands: string[] = [];
  const layers: number[] = [];
  const seconds: number[] = [];
  let layer = 0;
  let sawLayerComments = false;
  let t = 0;
  let x = 0;
  let y = 0;
  let z = 0;
  let feed = 1500; // mm/min, Marlin's usual default
  let relative = false;
  let maxZ = 0;
  let maxHotendC = 0;
  let maxBedC = 0;
  for (const raw of text.split(/\r?\n/)) {
    const layerMark = /^;LAYER:\s*(\d+)/i.exec(raw.trim());
    if (layerMark?.[1] !== undefined) {
      sawLayerComments = true;
      layer = Number(layerMark[1]);
    }
    const cmd = stripComment(raw);
    if (cmd === "") continue;
    const word = commandWord(cmd);
    const arg = (letter: string): number | null => {
      const m = new RegExp(`\\s${letter}(-?\\d*\\.?\\d+)`, "i").exec(` ${cmd}`);
      return m?.[1] !== undefined ? Number(m[1]) : null;
    };
    commands.push(cmd);
    layers.push(layer);
    seconds.push(t);
    if (word === "G90") relative = false;
    else if (word === "G91") relative = true;
    else if (word === "G0" || word === "G1") {
      const f = arg("F");
      if (f !== null && f > 0) feed = f;
      const nx = arg("X");
      const ny = arg("Y");
      const nz = arg("Z");
      const tx = nx === null ? x : relative ? x + nx : nx;
      const ty = ny === null ? y : relative ? y + ny : ny;
      const tz = nz === null ? z : relative ? z + nz : nz;
      const dist = Math.hypot(tx - x, ty - y, tz - z);
      t += dist / (feed / 60);
      if (!sawLayerComments && tz > maxZ + 0.01) {
        maxZ = tz;
        layer++;
      }
      x = tx;
      y = ty;
      z = tz;
    } else if (word === "G4") {
      t += (arg("P") ?? 0) / 1000 + (arg("S") ?? 0);
    } else if (HEATING.has(word)) {
      const target = heatingTarget(cmd);
      if (word === "M104" || word === "M109") maxHotendC = Math.max(maxHotendC, target);
      if (word === "M140" || word === "M190") maxBedC = Math.max(maxBedC, target);
    }
  }
  return {
    commands,
    layerAt: Int32Array.from(layers),
    layers: Math.max(0, ...layers),
    secondsAt: Float64Array.from(seconds),
    estimatedS: t,
    maxHotendC,
    maxBedC,
  };
}

export type JobState = "running" | "pausing" | "paused" | "resuming" | "cancelling" | "cancelled" | "done" | "failed";

export interface JobProgress {
  state: JobState;
  name: string;
  startedAt: number;
  endedAt: number | null;
  linesDone: number;
  totalLines: number;
  progressPct: number;
  layer: number;
  layers: number;
  elapsedS: number;
  /** Estimated from the moves, corrected by how fast the printer has actually been going. */
  timeLeftS: number | null;
  /** Why it ended, if it did not finish: "cancelled by juf", "link lost: …". */
  reason: string | null;
}

/** Lift the nozzle and move it away from the print (OctoPrint's default pause/cancel scripts do the same). */
const PARK = ["M400", "G91", "G1 Z5 F600", "G90"];
const CANCEL_TAIL = ["M104 S0", "M140 S0", "M107", "G91", "G1 Z10 F600", "G90", "M84"];

export class PrintJob {
  private cursor = 0;
  private current: JobState = "running";
  private readonly startedAt: number;
  private endedAt: number | null = null;
  private why: string | null = null;
  private pausedMs = 0;
  private pausedAt: number | null = null;
  private resumeWaiter: (() => void) | null = null;
  private readonly onEnd: Array<(p: JobProgress) => void> = [];

  constructor(
    readonly name: string,
    readonly analysis: JobAnalysis,
    private readonly driver: MarlinDriver,
    private readonly clock: Clock,
  ) {
    this.startedAt = clock.now();
  }

  get state(): JobState {
    return this.current;
  }

  /** Settles when the job has ended, whichever way; never rejects. */
  whenEnded(fn: (p: JobProgress) => void): void {
    this.onEnd.push(fn);
  }

  /** Streams every line; returns when the job has ended. */
  async run(): Promise<JobProgress> {
    const { commands } = this.analysis;
    while (this.cursor < commands.length) {
      if (this.current === "paused" || this.current === "pausing") await new Promise<void>((resolve) => (this.resumeWaiter = resolve));
      if (this.isEnded()) break;
      const cmd = commands[this.cursor];
      if (cmd === undefined) break;
      try {
        await this.driver.send(cmd, "job");
      } catch (error) {
        if (this.current === "pausing" || this.current === "paused") continue; // line dropped by pause: send it again on resume
        if (!this.isEnded()) this.end("failed", error instanceof Error ? error.message : String(error));
        break;
      }
      this.cursor++;
    }
    if (!this.isEnded()) this.end("done", null);
    return this.progress();
  }

  async pause(): Promise<void> {
    if (this.current !== "running") throw new HubError("REQUEST_INVALID", `the job is ${this.current}, not running`);
    this.current = "pausing";
    this.pausedAt = this.clock.now();
    this.driver.dropJobLines("paused");
    for (const line of PARK) await this.driver.send(line);
    if (this.current === "pausing") this.current = "paused";
  }

  async resume(): Promise<void> {
    if (this.current !== "paused") throw new HubError("REQUEST_INVALID", `the job is ${this.current}, not paused`);
    this.current = "resuming";
    // Back down to where it left off (the park lifted 5 mm, relative).
    for (const line of ["G91", "G1 Z-5 F600", "G90"]) await this.driver.send(line);
    if (this.pausedAt !== null) this.pausedMs += this.clock.now() - this.pausedAt;
    this.pausedAt = null;
    this.current = "running";
    this.resumeWaiter?.();
    this.resumeWaiter = null;
  }

  /** Cancel: stop streaming, park, heaters and motors off. */
  async cancel(reason: string): Promise<void> {
    if (this.isEnded()) return;
    this.driver.dropJobLines(reason);
    this.end("cancelling", reason);
    try {
      for (const line of [...PARK, ...CANCEL_TAIL]) await this.driver.send(line);
    } finally {
      this.end("cancelled", reason);
    }
  }

  /** The job stops without talking to the printer (halted, link lost): it says why. */
  abort(reason: string): void {
    if (this.isEnded()) return;
    this.driver.dropJobLines(reason);
    this.end("failed", reason);
  }

  progress(): JobProgress {
    const { commands, layerAt, layers, secondsAt, estimatedS } = this.analysis;
    const now = this.endedAt ?? this.clock.now();
    const elapsedS = (now - this.startedAt - this.pausedMs - (this.pausedAt !== null ? now - this.pausedAt : 0)) / 1000;
    const doneEstimate = secondsAt[Math.min(this.cursor, commands.length - 1)] ?? 0;
    // Printers rarely run at the estimate's pace: scale what is left by the pace so far.
    const pace = doneEstimate > 10 ? elapsedS / doneEstimate : 1;
    const timeLeftS = this.isEnded() ? 0 : Math.max(0, (estimatedS - doneEstimate) * pace);
    return {
      state: this.current,
      name: this.name,
      startedAt: this.startedAt,
      endedAt: this.endedAt,
      linesDone: this.cursor,
      totalLines: commands.length,
      progressPct: commands.length === 0 ? 100 : Math.round((this.cursor / commands.length) * 1000) / 10,
      layer: layerAt[Math.min(this.cursor, commands.length - 1)] ?? 0,
      layers,
      elapsedS: Math.max(0, Math.round(elapsedS)),
      timeLeftS: Math.round(timeLeftS),
      reason: this.why,
    };
  }

  private isEnded(): boolean {
    return this.current === "cancelled" || this.current === "done" || this.current === "failed" || this.current === "cancelling";
  }

  private end(state: JobState, reason: string | null): void {
    this.current = state;
    this.why = reason;
    if (state === "cancelling") return;
    this.endedAt = this.clock.now();
    this.resumeWaiter?.();
    this.resumeWaiter = null;
    const p = this.progress();
    for (const fn of this.onEnd) fn(p);
  }
}
