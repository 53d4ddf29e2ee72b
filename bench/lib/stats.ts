import { readFileSync } from "node:fs";

/** p in 0..1 over an ascending array. */
export function percentile(sorted: Float64Array | number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(p * sorted.length) - 1));
  return sorted[i] ?? Number.NaN;
}

export interface ProcSample {
  at: number;
  cpuMs: number;
  rssMB: number;
}

/** CPU time (user + system, all threads) and resident memory of a process, from /proc. */
export function procStats(pid: number): ProcSample {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  // Fields after the command name (which may contain spaces) start after the last ')'.
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKb = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  // Linux reports CPU time in clock ticks of 1/100 s (CLK_TCK).
  return { at: performance.now(), cpuMs: ticks * 10, rssMB: rssKb / 1024 };
}
