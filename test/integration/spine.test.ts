/**
 * The thin real path end to end: a device over real MQTT -> embedded broker -> hub -> REST,
 * socket.io and history.
 */
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DeviceView } from "../../hub/src/core/types.ts";
import { bootHarness, type Harness, SITE, TEST_META, until } from "./harness.ts";

type Ok<T> = { ok: true; result: T };

describe("telemetry spine", () => {
  let h: Harness;
  beforeEach(async () => {
    h = await bootHarness();
  });
  afterEach(async () => {
    await h.close();
  });

  it("takes a device from unknown to ready and shows its values over REST", async () => {
    const before = await h.get<Ok<DeviceView>>("/api/devices/dev-a");
    expect(before.body.result.state).toBe("unknown");
    const dev = await h.device("dev-a");
    await dev.describe();
    await dev.tele({ powerW: 1234.5, tempC: 21.5 });
    const view = await until(async () => {
      const r = await h.get<Ok<DeviceView>>("/api/devices/dev-a");
      return r.body.result.state === "ready" ? r.body.result : undefined;
    });
    expect(view.channels.powerW).toMatchObject({ value: 1234.5, unit: "W", quality: "ok", label: "Vermogen" });
    expect(view.firmware).toBe("1.2.3");
    expect(view.boot).toBe(1);
    expect(view.status).toBe("online");
    const list = await h.get<Ok<DeviceView[]>>("/api/devices");
    expect(list.body.result.map((d) => d.id)).toEqual(["dev-a", "dev-b", "dev-c"]);
  });

  it("streams a snapshot, then frames carrying value, age and provenance", async () => {
    const live = await h.live();
    const snap = await live.snapshot;
    expect(snap.site).toBe(SITE);
    expect(snap.devices.find((d) => d.id === "dev-b")?.state).toBe("unknown");
    const dev = await h.device("dev-b");
    await dev.describe();
    await dev.tele({ powerW: 42, tempC: 20 });
    const frame = await live.waitFor((f) => f.values.some((v) => v.d === "dev-b" && v.c === "powerW" && v.v === 42));
    const value = frame.values.find((v) => v.d === "dev-b" && v.c === "powerW");
    expect(value).toMatchObject({ quality: "ok", prov: "live" });
    expect(value?.ageMs).toBeGreaterThanOrEqual(0);
    expect(value?.ageMs).toBeLessThan(5000);
    await live.waitFor((f) => f.devices.some((d) => d.id === "dev-b" && d.state === "ready"));
  });

  it("stores telemetry and answers history queries by device, channel and range", async () => {
    const dev = await h.device("dev-a");
    await dev.describe();
    const start = Date.now();
    for (let i = 1; i <= 20; i++) await dev.tele({ powerW: i * 10, tempC: 20 });
    const result = await until(
      async () => {
        const r = await h.get<Ok<{ resolution: string; points: Array<{ t: number; avg: number }> }>>(
          `/api/history?device=dev-a&channel=powerW&from=${start - 1000}&to=${Date.now() + 1000}`,
        );
        return r.body.result.points.length === 20 ? r.body.result : undefined;
      },
      5000,
      "20 history points",
    );
    expect(result.resolution).toBe("raw");
    expect(result.points.map((p) => p.avg)).toEqual(Array.from({ length: 20 }, (_, i) => (i + 1) * 10));
  });

  it("answers bad history queries with a reason", async () => {
    const missing = await h.get<{ ok: false; code: string; message: string }>("/api/history?device=dev-a");
    expect(missing.status).toBe(400);
    expect(missing.body).toMatchObject({ ok: false, code: "REQUEST_INVALID" });
    expect(missing.body.message).toMatch(/channel/);
    const backwards = await h.get<{ ok: false; message: string }>("/api/history?device=dev-a&channel=powerW&from=2000&to=1000");
    expect(backwards.status).toBe(400);
    expect(backwards.body.message).toMatch(/after/);
    const unknown = await h.get<{ ok: false; code: string }>("/api/devices/nope");
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe("NOT_FOUND");
  });

  it("shows a crashed device offline within seconds (last will)", async () => {
    const dev = await h.device("dev-c");
    await dev.describe();
    await dev.tele({ powerW: 1, tempC: 1 });
    await until(async () => (await h.get<Ok<DeviceView>>("/api/devices/dev-c")).body.result.state === "ready");
    dev.crash();
    const view = await until(
      async () => {
        const r = await h.get<Ok<DeviceView>>("/api/devices/dev-c");
        return r.body.result.state === "offline" ? r.body.result : undefined;
      },
      5000,
      "dev-c offline",
    );
    expect(view.stateReason).toMatch(/offline/);
    expect(view.channels.powerW?.quality).toBe("stale");
  });

  it("publishes the hub's status and a 1 Hz heartbeat that the observer can watch", async () => {
    const observer = await h.observer();
    const seen: string[] = [];
    observer.on("message", (topic, payload) => seen.push(`${topic} ${payload.toString()}`));
    await observer.subscribeAsync(`tec/${SITE}/#`);
    await until(() => seen.some((s) => s.startsWith(`tec/${SITE}/_hub/status online`)), 3000, "hub status");
    await until(() => seen.filter((s) => s.startsWith(`tec/${SITE}/_hub/heartbeat`)).length >= 2, 3500, "two heartbeats");
    const dev = await h.device("dev-a");
    await dev.describe();
    await dev.tele({ powerW: 5, tempC: 5 });
    await until(() => seen.some((s) => s.startsWith(`tec/${SITE}/dev-a/tele`)), 3000, "device telemetry on the observer");
    expect(seen.some((s) => s.startsWith(`tec/${SITE}/dev-a/meta`) && s.includes(TEST_META.model))).toBe(true);
  });

  it("serves OpenAPI, Prometheus metrics and the hub's own health", async () => {
    const spec = await h.get<{ openapi: string; paths: Record<string, unknown> }>("/api/openapi.json");
    expect(spec.body.openapi).toMatch(/^3\./);
    expect(Object.keys(spec.body.paths)).toEqual(expect.arrayContaining(["/api/devices", "/api/devices/{id}", "/api/history", "/api/hub/health"]));
    const dev = await h.device("dev-a");
    await dev.describe();
    await dev.tele({ powerW: 5, tempC: 500 });
    const metrics = await until(async () => {
      const m = await h.get<string>("/metrics");
      return m.body.includes('tec_hub_ingest_rejected_total{code="out-of-range"} 1') ? m.body : undefined;
    });
    expect(metrics).toMatch(/tec_hub_ingest_messages_total 1/);
    expect(metrics).toMatch(/tec_hub_event_loop_lag_p99_seconds/);
    // The broker's thread reports its counters a few times a second.
    const health = await until(async () => {
      const r = await h.get<Ok<{ ingest: { totals: { accepted: number } }; mqtt: { clients: number }; eventLoop: { p99Ms: number } }>>("/api/hub/health");
      return r.body.result.mqtt.clients === 1 ? r.body.result : undefined;
    }, 5000, "the device counted as the broker's one client");
    expect(health.ingest.totals.accepted).toBe(1);
    expect(health.mqtt.clients).toBe(1);
  });
});
