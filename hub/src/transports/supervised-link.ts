/**
 * Keeps a byte link open: reopens it with backoff after an unplug or an I/O error without
 * restarting anything else, and lets a technician release the port (to flash firmware) and take it
 * back. Time runs on the injected clock.
 */
import type { Clock, Timer } from "../core/clock.ts";
import type { Logger } from "../core/logger.ts";
import type { ByteLink } from "./byte-link.ts";

export type LinkState = "opening" | "open" | "waiting" | "released" | "stopped";

export interface SupervisedLinkOptions {
  minBackoffMs: number;
  maxBackoffMs: number;
}

export class SupervisedLink {
  private current: LinkState = "stopped";
  private timer: Timer | null = null;
  private backoffMs: number;
  private readonly upFns: Array<() => void> = [];
  private readonly downFns: Array<(reason: string) => void> = [];
  readonly stats = { opens: 0, losses: 0, failedOpens: 0, lastError: null as string | null, lastChangeAt: 0 };

  constructor(
    readonly link: ByteLink,
    private readonly ctx: { clock: Clock; logger: Logger },
    private readonly options: SupervisedLinkOptions = { minBackoffMs: 500, maxBackoffMs: 10_000 },
  ) {
    this.backoffMs = options.minBackoffMs;
    link.onLost((reason) => this.handleLost(reason));
  }

  get state(): LinkState {
    return this.current;
  }

  onUp(fn: () => void): void {
    this.upFns.push(fn);
  }

  onDown(fn: (reason: string) => void): void {
    this.downFns.push(fn);
  }

  onData(fn: (chunk: Buffer) => void): void {
    this.link.onData(fn);
  }

  start(): void {
    if (this.current !== "stopped" && this.current !== "released") return;
    this.tryOpen();
  }

  write(data: string | Buffer): Promise<void> {
    return this.link.write(data);
  }

  /** Closes the port and keeps it closed (for flashing) until `reclaim()`. */
  async release(): Promise<void> {
    this.cancelTimer();
    const wasOpen = this.current === "open";
    this.setState("released");
    await this.link.close();
    if (wasOpen) for (const fn of this.downFns) fn("released by a technician");
  }

  reclaim(): void {
    if (this.current !== "released") return;
    this.backoffMs = this.options.minBackoffMs;
    this.tryOpen();
  }

  async stop(): Promise<void> {
    this.cancelTimer();
    this.setState("stopped");
    await this.link.close();
  }

  private tryOpen(): void {
    this.setState("opening");
    this.link.open().then(
      () => {
        if (this.current !== "opening") {
          // Released or stopped while opening: close what we just opened.
          void this.link.close();
          return;
        }
        this.stats.opens++;
        this.backoffMs = this.options.minBackoffMs;
        this.setState("open");
        for (const fn of this.upFns) fn();
      },
      (error: unknown) => {
        this.stats.failedOpens++;
        this.stats.lastError = error instanceof Error ? error.message : String(error);
        if (this.current === "opening") this.wait();
      },
    );
  }

  private handleLost(reason: string): void {
    if (this.current !== "open") return;
    this.stats.losses++;
    this.stats.lastError = reason;
    this.ctx.logger.warn({ link: this.link.description, reason }, "link lost; reconnecting");
    void this.link.close();
    this.wait();
    for (const fn of this.downFns) fn(reason);
  }

  private wait(): void {
    this.setState("waiting");
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.options.maxBackoffMs, this.backoffMs * 2);
    this.cancelTimer();
    this.timer = this.ctx.clock.setTimeout(() => {
      this.timer = null;
      if (this.current === "waiting") this.tryOpen();
    }, delay);
  }

  private setState(s: LinkState): void {
    this.current = s;
    this.stats.lastChangeAt = this.ctx.clock.now();
  }

  private cancelTimer(): void {
    this.timer?.cancel();
    this.timer = null;
  }
}
