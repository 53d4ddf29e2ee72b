/** What every view gets: the live store and the route it was opened with. */
import type { LiveStore } from "./live-store.ts";
import type { Route } from "./router.ts";

export interface AppContext {
  live: LiveStore;
  route: Route;
}

/** A mounted view; calling it unmounts (timers, subscriptions, sockets of its own). */
export type Unmount = () => void;
export type View = (root: HTMLElement, ctx: AppContext) => Unmount;
