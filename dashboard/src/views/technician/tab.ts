/** A tab of the technician's workbench: built when opened, destroyed when left. */
import type { AppContext } from "../../core/app.ts";

export interface Tab {
  el: HTMLElement;
  /** Called on every live change (at most once per animation frame). */
  update?(): void;
  destroy?(): void;
}

export type TabFactory = (ctx: AppContext) => Tab;

/** Repeats `fn` every `ms` until stopped, starting now; never overlaps itself. */
export function poll(fn: () => Promise<void>, ms: number): () => void {
  let stopped = false;
  let timer = 0;
  const run = async () => {
    await fn();
    if (!stopped) timer = window.setTimeout(() => void run(), ms);
  };
  void run();
  return () => {
    stopped = true;
    window.clearTimeout(timer);
  };
}
