/**
 * One history worker (history-worker.ts) from spawn to exit, as the main thread sees it: how it is
 * started (under tsx and vitest too), its readiness, requests with their replies, and its exit.
 * What to do about an exit (count, restart) is the HistoryStore's business.
 */
import { Worker, type TransferListItem, type WorkerOptions } from "node:worker_threads";
import { HubError } from "../core/errors.ts";
import { workerEntry } from "../worker-entry.ts";
import type { FromWorker, ToWorker, WorkerInit } from "./history-protocol.ts";

/** Starts a worker thread; a test may pass one that keeps the Worker to terminate it. */
export type SpawnWorker = (entry: string | URL, options: WorkerOptions) => Worker;

export interface SessionHooks {
  ready(dbBytes: number | null): void;
  error(error: Error): void;
  /** After every reply still awaited was rejected and `ready` settled. */
  exit(session: WorkerSession, code: number): void;
}

export class WorkerSession {
  /** Settles once the worker has opened and migrated the database; rejects with HubError STORAGE_FAILED. */
  readonly ready: Promise<void>;
  readonly exited: Promise<void>;
  isReady = false;
  hasExited = false;
  /** Asked to stop: kept referenced until it has exited, and its exit is no failure. */
  stopping = false;
  private failure: string | null = null;
  private readonly worker: Worker;
  private readonly replies = new Map<number, { resolve: (reply: FromWorker) => void; reject: (error: HubError) => void }>();

  /** Throws HubError STORAGE_FAILED if the thread cannot even be created. */
  constructor(init: WorkerInit, hooks: SessionHooks, spawn: SpawnWorker = (entry, options) => new Worker(entry, options)) {
    const { entry, eval: isEval } = workerEntry("history-worker", import.meta.url);
    try {
      this.worker = spawn(entry, { workerData: init, eval: isEval, name: "history" });
    } catch (error) {
      throw new HubError("STORAGE_FAILED", `history: cannot start its worker: ${(error as Error).message}`);
    }
    let settle: (error?: HubError) => void = () => {};
    let exited: () => void = () => {};
    this.ready = new Promise<void>((resolve, reject) => (settle = (error) => (error === undefined ? resolve() : reject(error))));
    this.ready.catch(() => {}); // observed by whoever awaits it; never unhandled
    this.exited = new Promise<void>((resolve) => (exited = resolve));
    this.worker.on("message", (msg: FromWorker) => {
      if (msg.type === "ready") {
        this.isReady = true;
        this.idle();
        hooks.ready(msg.dbBytes);
        return settle();
      }
      if (msg.type === "failed") return void (this.failure = msg.message);
      const pending = this.replies.get(msg.id);
      this.replies.delete(msg.id);
      this.idle();
      pending?.resolve(msg);
    });
    this.worker.on("error", (error) => {
      this.failure ??= error.message;
      hooks.error(error);
    });
    this.worker.on("exit", (code) => {
      this.hasExited = true;
      const gone = new HubError("STORAGE_FAILED", `history worker exited (code ${code})${this.failure !== null ? `: ${this.failure}` : ""}`);
      for (const p of this.replies.values()) p.reject(gone);
      this.replies.clear();
      exited();
      if (!this.isReady) settle(new HubError("STORAGE_FAILED", `history: cannot open database ${init.path}: ${this.failure ?? `worker exited with code ${code}`}`));
      hooks.exit(this, code);
    });
  }

  /** Why it failed or exited, if it said. */
  get problem(): string | null {
    return this.failure;
  }

  /** Sends a request and waits for its reply; the worker keeps the process alive only meanwhile. */
  request(msg: ToWorker, transfer: TransferListItem[] = []): Promise<FromWorker> {
    if (this.hasExited) return Promise.reject(new HubError("STORAGE_FAILED", "history worker has exited"));
    return new Promise<FromWorker>((resolve, reject) => {
      this.replies.set(msg.id, { resolve, reject });
      this.worker.ref();
      this.worker.postMessage(msg, transfer);
    });
  }

  /** From now on its exit is expected, and the process waits for it. */
  stop(): void {
    this.stopping = true;
    this.worker.ref();
  }

  private idle(): void {
    if (this.isReady && !this.stopping && this.replies.size === 0) this.worker.unref();
  }
}
