/**
 * The G/M/T codes of the simulated Marlin, one handler each (Marlin src/gcode/**). A handler runs
 * when its command reaches the head of the command queue and returns a `Running`: polled until done,
 * after which the firmware sends `ok` (unless the handler printed its own, like M105).
 */
import { seen, type ParsedCommand } from "./gcode.ts";
import type { Heater } from "./heaters.ts";
import { AXES, type Axes, type Motion } from "./planner.ts";

export interface Running {
  /** True once finished. Called on every pump and tick; may print (busy waits print temperatures). */
  poll(): boolean;
  /** Clock time at which polling can make progress, when known sooner than the next tick. */
  wakeAt(): number | undefined;
  /** Whether the firmware sends `ok` when this finishes. */
  ok: boolean;
}

export interface MachineSettings {
  /** M113: seconds between `busy: processing` (0 = off). */
  busyIntervalS: number;
  /** M155: seconds between temperature auto-reports (0 = off). */
  autoTempS: number;
  nextAutoTempMs: number;
  /** Cleared by M108 (emergency parser) to break M109/M190. */
  waitForHeatup: boolean;
  fanPwm: number;
  progress: { percent: number; remainingMin: number | null } | null;
  message: string | null;
}

export function defaultSettings(): MachineSettings {
  return {
    busyIntervalS: 2, // Marlin DEFAULT_KEEPALIVE_INTERVAL
    autoTempS: 0,
    nextAutoTempMs: 0,
    waitForHeatup: false,
    fanPwm: 0,
    progress: null,
    message: null,
  };
}

/** What the handlers may touch; the firmware implements it. */
export interface Machine {
  now(): number;
  /** Thermal seconds (real seconds times heatFactor) for residency and cooling checks. */
  thermalS(): number;
  emit(line: string): void;
  readonly hotend: Heater;
  readonly bed: Heater;
  readonly motion: Motion;
  readonly settings: MachineSettings;
  /** ` T:… /… B:… /… @:… B@:…` */
  temperatureReport(): string;
  stopped(): boolean;
  /** M999: back to running, `Resend: <last N + 1>` and `ok` (Marlin flush_and_request_resend). */
  restart(requestResend: boolean): void;
  setLastLine(n: number): void;
  firmwareInfo(): string[];
}

/** Marlin EXTRUDE_MINTEMP and EXTRUDE_MAXLENGTH. */
const EXTRUDE_MIN_C = 170;
const EXTRUDE_MAX_MM = 200;

const finished = (ok = true): Running => ({ poll: () => true, wakeAt: () => undefined, ok });

/** Runs `cmd`; unknown commands print Marlin's warning and are acknowledged. */
export function execute(m: Machine, cmd: ParsedCommand): Running {
  const p = (k: string): number | undefined => cmd.params.get(k);
  if (cmd.letter === "G") {
    switch (cmd.code) {
      case 0:
      case 1:
        return move(m, cmd);
      case 4:
        return afterSync(m, () => (p("P") ?? (p("S") ?? 0) * 1000) / m.motion.speedFactor);
      case 21:
        return finished();
      case 28:
        return home(m, cmd);
      case 90:
        m.motion.relative = false;
        m.motion.relativeE = false;
        return finished();
      case 91:
        m.motion.relative = true;
        return finished();
      case 92:
        m.motion.setPosition(axisWords(cmd));
        return finished();
    }
  } else if (cmd.letter === "M") {
    const r = mCode(m, cmd, p);
    if (r !== null) return r;
  } else if (cmd.letter === "T") {
    if (cmd.code !== 0) m.emit(`echo:T${cmd.code} Invalid extruder`);
    return finished();
  }
  m.emit(`echo:Unknown command: "${cmd.text}"`);
  return finished();
}

function mCode(m: Machine, cmd: ParsedCommand, p: (k: string) => number | undefined): Running | null {
  const s = m.settings;
  switch (cmd.code) {
    case 17:
    case 18:
    case 84:
    case 75:
    case 76:
    case 77:
    case 201:
    case 203:
    case 204:
    case 205:
    case 300:
      return finished();
    // With EMERGENCY_PARSER these were handled when their bytes arrived; in the queue they only ack.
    case 108:
    case 112:
    case 410:
      return finished();
    case 73: {
      const percent = p("P");
      if (percent !== undefined) s.progress = { percent, remainingMin: p("R") ?? null };
      return finished();
    }
    case 82:
      m.motion.relativeE = false;
      return finished();
    case 83:
      m.motion.relativeE = true;
      return finished();
    case 104:
    case 140:
    case 109:
    case 190: {
      const h = cmd.code === 104 || cmd.code === 109 ? m.hotend : m.bed;
      if (h === m.hotend && (p("T") ?? 0) !== 0) {
        m.emit(`echo:M${cmd.code} Invalid extruder ${p("T")}`);
        return finished();
      }
      const target = p("S") ?? (cmd.code === 109 || cmd.code === 190 ? p("R") : undefined);
      if (target !== undefined) h.setTarget(target, m.thermalS());
      if (cmd.code === 104 || cmd.code === 140 || target === undefined) return finished();
      return heatWait(m, h, cmd.params.has("S"));
    }
    case 105:
      m.emit(`ok${m.temperatureReport()}`);
      return finished(false);
    case 106:
      s.fanPwm = Math.max(0, Math.min(255, Math.round(p("S") ?? 255)));
      return finished();
    case 107:
      s.fanPwm = 0;
      return finished();
    case 110: {
      const n = p("N");
      if (n !== undefined) m.setLastLine(Math.trunc(n));
      return finished();
    }
    case 113: {
      const secs = p("S");
      if (secs === undefined) m.emit(`echo:M113 S${s.busyIntervalS}`);
      else s.busyIntervalS = Math.max(0, Math.min(60, Math.trunc(secs)));
      return finished();
    }
    case 114:
      m.emit(positionReport(m.motion));
      return finished();
    case 115:
      for (const line of m.firmwareInfo()) m.emit(line);
      return finished();
    case 117:
      s.message = cmd.rest === "" ? null : cmd.rest;
      return finished();
    case 118:
      m.emit(m118Text(cmd.rest));
      return finished();
    case 155: {
      const secs = p("S");
      if (secs !== undefined) {
        s.autoTempS = Math.max(0, Math.min(60, Math.trunc(secs)));
        s.nextAutoTempMs = m.now() + s.autoTempS * 1000;
      }
      return finished();
    }
    case 220: {
      const pct = p("S");
      if (pct === undefined) m.emit(`FR:${m.motion.feedPercent}%`);
      else m.motion.feedPercent = Math.max(10, Math.min(999, Math.round(pct)));
      return finished();
    }
    case 221: {
      const pct = p("S");
      if (pct === undefined) m.emit(`echo:E0 Flow: ${m.motion.flowPercent}%`);
      else m.motion.flowPercent = Math.max(10, Math.min(999, Math.round(pct)));
      return finished();
    }
    case 400:
      return afterSync(m, () => 0);
    case 999:
      m.restart(!(p("S") !== undefined && p("S") !== 0));
      return finished();
  }
  return null;
}

function axisWords(cmd: ParsedCommand): Partial<Axes> {
  const words: Partial<Axes> = {};
  for (const a of AXES) {
    const v = cmd.params.get(a.toUpperCase());
    if (v !== undefined) words[a] = v;
  }
  return words;
}

/** G0/G1: the ok comes once the move is in the planner; with the planner full, when a slot frees. */
function move(m: Machine, cmd: ParsedCommand): Running {
  if (m.stopped()) return finished(); // Marlin G0_G1: no motion unless IsRunning()
  const f = cmd.params.get("F");
  if (f !== undefined && f > 0) m.motion.feedMmMin = f;
  const target = m.motion.resolveTarget(axisWords(cmd));
  const de = target.e - m.motion.position.e;
  let extrude = true;
  if (de !== 0 && m.hotend.readingC < EXTRUDE_MIN_C) {
    m.emit("echo: cold extrusion prevented");
    extrude = false;
  } else if (Math.abs(de) > EXTRUDE_MAX_MM) {
    m.emit("echo: too long extrusion prevented");
    extrude = false;
  }
  let queued = false;
  return {
    ok: true,
    poll: () => {
      if (queued) return true;
      if (!m.motion.hasRoom(m.now())) return false;
      m.motion.push(target, m.now(), extrude);
      queued = true;
      return true;
    },
    wakeAt: () => m.motion.nextFreeAt(),
  };
}

/** Waits for the planner to empty (planner.synchronize), then for `durationMs()` more. */
function afterSync(m: Machine, durationMs: () => number, then?: () => void): Running {
  let endMs: number | null = null;
  let done = false;
  return {
    ok: true,
    poll: () => {
      if (done) return true;
      const now = m.now();
      if (endMs === null) {
        if (m.motion.queued(now) > 0) return false;
        endMs = now + Math.max(0, durationMs());
      }
      if (now < endMs) return false;
      then?.();
      done = true;
      return true;
    },
    wakeAt: () => endMs ?? m.motion.idleAt(m.now()),
  };
}

function home(m: Machine, cmd: ParsedCommand): Running {
  const picked = (["x", "y", "z"] as const).filter((a) => seen(cmd, a.toUpperCase()));
  const axes = picked.length > 0 ? picked : (["x", "y", "z"] as const);
  if (m.stopped()) return finished();
  return afterSync(
    m,
    () => m.motion.homingMs(axes),
    () => m.motion.homed(axes),
  );
}

/**
 * M109/M190 (Marlin wait_for_hotend / wait_for_bed): print the temperatures every second, wait
 * until within TEMP_WINDOW for TEMP_RESIDENCY_TIME; `S` does not wait for cooling, `R` does (and
 * gives up if cooling stalls, MIN_COOLING_SLOPE_*). M108 breaks the wait.
 */
function heatWait(m: Machine, h: Heater, noWaitForCooling: boolean): Running {
  const wantsToCool = h.readingC > h.targetC;
  if (noWaitForCooling && wantsToCool) return finished();
  const coolSlopeC = h.spec.id === "bed" ? 1 : 1.5;
  m.settings.waitForHeatup = true;
  let nextPrintMs = m.now();
  let residencyStartS: number | null = null;
  let nextCoolCheckS = 0;
  let oldTempC = 9999;
  let done = false;
  const finish = (): boolean => {
    done = true;
    m.settings.waitForHeatup = false;
    return true;
  };
  return {
    ok: true,
    wakeAt: () => undefined,
    poll: () => {
      if (done) return true;
      if (!m.settings.waitForHeatup) return finish();
      const now = m.now();
      const tS = m.thermalS();
      const temp = h.readingC;
      if (now >= nextPrintMs) {
        nextPrintMs = now + 1000;
        const left = residencyStartS === null ? "?" : String(Math.trunc(h.spec.residencyS - (tS - residencyStartS)));
        m.emit(`${m.temperatureReport()} W:${left}`);
      }
      const diff = Math.abs(h.targetC - temp);
      if (residencyStartS === null) {
        if (diff < h.spec.windowC) residencyStartS = tS;
      } else if (diff > h.spec.hysteresisC) {
        residencyStartS = tS;
      }
      if (wantsToCool && (nextCoolCheckS === 0 || tS >= nextCoolCheckS)) {
        if (oldTempC - temp < coolSlopeC) return finish();
        nextCoolCheckS = tS + 60;
        oldTempC = temp;
      }
      if (residencyStartS !== null && tS - residencyStartS >= h.spec.residencyS) return finish();
      return false;
    },
  };
}

/** `X:10.00 Y:20.00 Z:0.30 E:1.20 Count X:800 Y:1600 Z:120` (Marlin report_current_position_projected). */
export function positionReport(motion: Motion): string {
  const p = motion.position;
  const c = motion.counts();
  return `X:${p.x.toFixed(2)} Y:${p.y.toFixed(2)} Z:${p.z.toFixed(2)} E:${p.e.toFixed(2)} Count X:${c.x} Y:${c.y} Z:${c.z}`;
}

/** M118: `E1` prefixes `echo:`, `A1` prefixes `//`, `Pn` picks a port (ignored). */
function m118Text(rest: string): string {
  let text = rest;
  let prefix = "";
  for (;;) {
    const m = /^([EAP])(\d)\s*/.exec(text);
    if (m === null) break;
    if (m[1] === "E" && m[2] !== "0") prefix = "echo:";
    if (m[1] === "A" && m[2] !== "0") prefix = "//";
    text = text.slice(m[0].length);
  }
  return prefix + text;
}
