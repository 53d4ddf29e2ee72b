/**
 * How to start one of the hub's worker threads (the history's SQLite worker, the embedded broker).
 * Compiled to JavaScript the entry starts directly. As TypeScript (tsx, vitest) the worker needs tsx,
 * and Node 20 does not apply `--import` loaders from a Worker's execArgv to the worker's own entry
 * (nodejs/node#47747, privatenumber/tsx#354: "Unknown file extension .ts", also with `--import` of
 * tsx's loader in execArgv), so a one-line bootstrap loads the entry through tsx's `tsImport`, which
 * registers tsx inside the worker for that import only and so works whether or not this process was
 * started with tsx.
 *
 * `name` is the entry's file name without extension, next to the module at `base` (its import.meta.url).
 */
import { extname } from "node:path";
import { fileURLToPath } from "node:url";

export function workerEntry(name: string, base: string): { entry: string | URL; eval: boolean } {
  const entry = new URL(`./${name}${extname(fileURLToPath(base))}`, base);
  if (!entry.pathname.endsWith(".ts")) return { entry, eval: false };
  // Resolved here, next to this file; the bare name is a fallback resolved from the working directory.
  const api = typeof import.meta.resolve === "function" ? import.meta.resolve("tsx/esm/api") : "tsx/esm/api";
  const code = `import(${JSON.stringify(api)}).then((tsx) => tsx.tsImport(${JSON.stringify(entry.href)}, ${JSON.stringify(base)}));`;
  return { entry: code, eval: true };
}
