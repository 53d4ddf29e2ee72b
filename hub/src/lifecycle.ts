/**
 * The hub's components in the order they start, stopped in reverse. Each component that has been
 * opened or started is recorded here at once, so a start that fails half-way closes exactly what
 * was already open (zigbee2mqtt's controller walks its extensions the same way), and a stop runs
 * every step even when one fails: nothing ever skips closing the database.
 */
import type { Logger } from "./core/logger.ts";

export interface StopFailure {
  name: string;
  error: string;
}

interface Step {
  name: string;
  stop: () => void | Promise<void>;
}

export class Lifecycle {
  private readonly steps: Step[] = [];
  private stopping: Promise<StopFailure[]> | null = null;

  constructor(private readonly logger: Logger) {}

  /** Starts a component now and remembers how to stop it. */
  async start(name: string, start: () => void | Promise<void>, stop: () => void | Promise<void>): Promise<void> {
    await start();
    this.steps.push({ name, stop });
  }

  /** Something already open (the database, a thread): remembered for stopping, in order. */
  opened(name: string, stop: () => void | Promise<void>): void {
    this.steps.push({ name, stop });
  }

  /** The names of what would be stopped, in the order it would be (for tests and the log). */
  stopOrder(): string[] {
    return this.steps.map((s) => s.name).reverse();
  }

  /** Stops everything in reverse, each step on its own: a failing step is logged and the rest still run. */
  stopAll(): Promise<StopFailure[]> {
    this.stopping ??= (async () => {
      const failures: StopFailure[] = [];
      for (const step of this.steps.splice(0).reverse()) {
        try {
          await step.stop();
        } catch (error) {
          const message = error instanceof Error ? error.message : String(error);
          failures.push({ name: step.name, error: message });
          this.logger.error({ err: message, component: step.name }, "stopping a component failed; carrying on");
        }
      }
      return failures;
    })();
    return this.stopping;
  }
}
