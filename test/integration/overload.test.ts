/**
 * Floods and slow consumers: the hub sheds load and says so; it never goes down (aedes issue #193:
 * a subscriber with a large backlog disconnecting under overload).
 */
import { afterEach, describe, expect, it } from "vitest";
import type { DeviceView } from "../../hub/src/core/types.ts";
import { bootHarness, type Harness, SITE, until } from "./harness.ts";

type Ok<T> = { ok: true; result: T };
interface Health {
  ingest: { totals: { shed: number; accepted: number } };
  mqtt: { forwardDropped: number; budgetDropped: number };
}

describe("overload", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.close();
  });

  it("sheds a flooding device, drops messages for a stalled subscriber, and stays up", async () => {
    h = await bootHarness({ intake: { maxMessagesPerS: 100_000, maxDeviceMessagesPerS: 500 }, broker: { mode: "embedded", host: "127.0.0.1", port: 0, observer: { username: "observer", password: "observer" }, limits: { maxSubscriberBacklogB: 65_536, observerMessagesPerS: 1_000_000, observerTotalMessagesPerS: 1_000_000 } } });
    const quiet = await h.device("dev-b");
    await quiet.describe();

    // A technician's tool subscribed to everything that stops reading its socket (its budget is
    // raised here, so the broker's bounds on a burst and on the socket's backlog are what stop its messages).
    const observer = await h.observer();
    await observer.subscribeAsync("#");
    observer.stream.pause();

    const flood = await h.device("dev-a");
    await flood.describe();
    const payload = (seq: number) => JSON.stringify({ ts: Date.now(), seq, readings: { powerW: seq % 5000, tempC: 20 } });
    // Enough bytes to fill the kernel's socket buffers behind the stalled subscriber (several MB).
    for (let round = 0; round < 100; round++) {
      for (let i = 0; i < 1000; i++) flood.client.publish(`tec/${SITE}/dev-a/tele`, payload(round * 1000 + i + 1), { qos: 0 });
      await new Promise((r) => setImmediate(r));
    }
    const health = await until(
      async () => {
        const r = await h!.get<Ok<Health>>("/api/hub/health");
        // Dropped for the stalled tool at its socket's backlog, or before, at the observers' budget.
        return r.body.result.ingest.totals.shed > 0 && r.body.result.mqtt.forwardDropped + r.body.result.mqtt.budgetDropped > 0 ? r.body.result : undefined;
      },
      15_000,
      "shed and dropped counts",
    );
    expect(health.ingest.totals.shed).toBeGreaterThan(0);
    // The stalled subscriber vanishes abruptly with its backlog.
    observer.stream.destroy();

    const view = (await h.get<Ok<DeviceView>>("/api/devices/dev-a")).body.result;
    expect(view.counters.shed).toBeGreaterThan(0);
    expect(view.rejectsByCode.shed).toBeGreaterThan(0);
    expect(view.recentRejects.some((r) => /intake limit|dropped by the broker: \d+ of this device.s messages/.test(r.message))).toBe(true);

    // The hub still serves others promptly.
    await quiet.tele({ powerW: 4242, tempC: 1 });
    await until(async () => (await h!.get<Ok<DeviceView>>("/api/devices/dev-b")).body.result.channels.powerW?.value === 4242, 10_000, "quiet device heard after the flood");
    // The broker's thread never went down (aedes issue #193 ends such a backlog in a stack overflow).
    expect((await h.get<Ok<{ mqtt: { threadRestarts: number } }>>("/api/hub/health")).body.result.mqtt.threadRestarts).toBe(0);
  });

  it("sends a bounded number of live frames per second whatever the input rate", async () => {
    h = await bootHarness({ live: { maxFramesPerS: 10 } });
    const live = await h.live();
    await live.snapshot;
    const dev = await h.device("dev-a");
    await dev.describe();
    const started = Date.now();
    let seq = 0;
    while (Date.now() - started < 2000) {
      for (let i = 0; i < 50; i++) dev.client.publish(`tec/${SITE}/dev-a/tele`, JSON.stringify({ ts: Date.now(), seq: ++seq, readings: { powerW: seq % 5000, tempC: 20 } }));
      await new Promise((r) => setTimeout(r, 10));
    }
    const elapsedS = (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 300));
    expect(seq).toBeGreaterThan(1000);
    expect(live.frames.length).toBeGreaterThan(3);
    // 10 frames per second, plus one for the edges of the window.
    expect(live.frames.length).toBeLessThanOrEqual(Math.ceil(elapsedS * 10) + 4);
    // Coalesced, not lost: the last frame carries the latest value.
    const last = live.frames.flatMap((f) => f.values).filter((v) => v.d === "dev-a" && v.c === "powerW").at(-1);
    expect(last?.v).toBe(seq % 5000);
  });
});
