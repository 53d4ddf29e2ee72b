/**
 * A load generator process for the fleet benchmark's idle devices (bench/fleet.ts starts several
 * with `fork`): a slice of the fleet, each device on its own socket and account, connects,
 * describes itself and then sends at the given total rate until told "stop". Told "first", every
 * device sends one telemetry message at once, so the hub can call it ready without waiting a
 * minute for its turn (the parent repeats it for readings the hub refused because they overtook
 * their device's meta). Its own process so that ten thousand sockets fit within the per-process
 * file-descriptor limit and the generator's CPU is not the hub's.
 */
import { MqttLoad } from "./lib/mqtt-load.ts";
import { telemetryFill } from "./lib/telemetry.ts";

export interface ClientTask {
  host: string;
  port: number;
  site: string;
  /** Device ids; each device's account is its id with password `pw-<id>`. */
  ids: string[];
  meta: object;
  /** Messages per second for the whole slice once every device has said hello. */
  ratePerS: number;
  /** Devices that connect at a time (each batch waits for the previous one's CONNACKs). */
  connectBatch: number;
}

export type ClientReport =
  | { type: "connected"; devices: number; ms: number }
  | { type: "described" }
  | { type: "done"; sent: number }
  | { type: "failed"; message: string };

/** Sends a report to the parent; resolves once it is on its way (before an exit, wait for it). */
const report = (r: ClientReport) => new Promise<void>((resolve) => (process.send === undefined ? resolve() : process.send(r, () => resolve())));

async function main(task: ClientTask): Promise<void> {
  const load = new MqttLoad({
    host: task.host,
    port: task.port,
    site: task.site,
    devices: task.ids.map((id) => ({ id, username: id, password: `pw-${id}` })),
    logCapacity: 64,
  });
  const fill = telemetryFill([
    { channel: "tempC", width: 5, value: (seq) => 20 + (seq % 50) / 10 },
    { channel: "n", width: 10, value: (seq) => seq },
  ]);
  const payload = () => fill.template;
  let stopping = false;
  let described = false;
  let sent = 0;
  process.on("message", (m) => {
    if (m === "first" && described) sent += load.once(payload, fill);
    if (m === "stop") stopping = true;
  });
  const t0 = performance.now();
  await load.connect(task.connectBatch);
  void report({ type: "connected", devices: task.ids.length, ms: performance.now() - t0 });
  await load.describe(task.meta);
  described = true;
  void report({ type: "described" });
  while (!stopping) {
    // Not `sent += await …`: that would read `sent` before the wait and lose the "first" rounds.
    const { sent: n } = await load.run(task.ratePerS, 1000, payload, fill);
    sent += n;
  }
  load.close();
  await report({ type: "done", sent });
}

process.once("message", (task: ClientTask) => {
  main(task).then(
    () => process.exit(0),
    (error: unknown) => void report({ type: "failed", message: error instanceof Error ? error.message : String(error) }).then(() => process.exit(1)),
  );
});
