import { describe, expect, it } from "vitest";
import type { CommandMessage } from "../../../../firmware-bridge/contract/messages.ts";
import { HubError } from "../errors.ts";
import { BUTTON, WATER, buildSite, rejection } from "../testing/safety-site.ts";
import { asDeviceId, type DeviceId } from "../types.ts";
import { CommandService } from "./commands.ts";

const ACK_TIMEOUT_MS = 500;

/** A command service of its own on the site's real registry and pipeline; acks arrive through the pipeline. */
function setup() {
  const site = buildSite({ rules: [] });
  const sent: Array<{ deviceId: DeviceId; actuator: string; message: CommandMessage }> = [];
  const commands = new CommandService({ clock: site.clock, registry: site.registry, bus: site.bus }, { sendCommand: (deviceId, actuator, message) => sent.push({ deviceId, actuator, message }) }, ACK_TIMEOUT_MS);
  site.pipeline.setAckSink(commands);
  site.allCalm();
  const ack = (device: string, body: unknown) => site.pipeline.ingest(asDeviceId(device), "ack", body);
  const idOf = (i: number) => sent[i]?.message.id ?? "?";
  return { site, commands, sent, ack, idOf };
}

/** Settles a promise into what became of it, without waiting on anything but the microtask queue. */
function track<T>(p: Promise<T>) {
  const out: { value?: T; error?: unknown; done: boolean } = { done: false };
  void p.then(
    (value) => Object.assign(out, { value, done: true }),
    (error: unknown) => Object.assign(out, { error, done: true }),
  );
  return out;
}

describe("CommandService", () => {
  it("sends cmd with an id, the value and the actuator's lease, and resolves on the device's positive ack", async () => {
    const { site, commands, sent, ack, idOf } = setup();
    const result = track(commands.send(WATER, "pumpEnable", 1));
    expect(sent).toEqual([{ deviceId: WATER, actuator: "pumpEnable", message: { id: expect.any(String) as unknown, value: 1, leaseMs: 3000 } }]);
    expect(commands.inFlight).toBe(1);
    await site.advance(40);
    ack("water", { id: idOf(0), ok: true });
    await site.advance(0);
    expect(result).toMatchObject({ done: true, value: { id: idOf(0), deviceId: WATER, actuator: "pumpEnable", value: 1, leaseMs: 3000, latencyMs: 40 } });
    expect(commands.counters).toEqual({ sent: 1, acked: 1, refused: 0, timeouts: 0 });
    expect(commands.inFlight).toBe(0);
  });

  it.each([
    ["a shorter lease asked for", 1000, 1000],
    ["a longer lease than the device declares", 60_000, 3000],
  ])("keeps %s within the actuator's own", (_name, asked, expected) => {
    const { commands, sent } = setup();
    void commands.send(WATER, "heater", 1, asked).catch(() => undefined);
    expect(sent[0]?.message.leaseMs).toBe(expected);
  });

  type AckCase = [name: string, answer: (ctx: ReturnType<typeof setup>) => void, outcome: "pending" | { code: string; message: RegExp }];
  const acks: AckCase[] = [
    ["an ack with an id it never sent", ({ ack }) => ack("water", { id: "not-ours", ok: true }), "pending"],
    ["the right id from another device", ({ ack, idOf }) => ack("button", { id: idOf(0), ok: true }), "pending"],
    ["a malformed ack", ({ ack, idOf }) => ack("water", { id: idOf(0), ok: "yes" }), "pending"],
    ["a refusal with the device's reason", ({ ack, idOf }) => ack("water", { id: idOf(0), ok: false, error: "interlock on board" }), { code: "DEVICE_REFUSED", message: /device water refused pumpEnable=1: interlock on board/ }],
    ["a refusal without a reason", ({ ack, idOf }) => ack("water", { id: idOf(0), ok: false }), { code: "DEVICE_REFUSED", message: /refused pumpEnable=1: no reason given/ }],
  ];

  it.each(acks)("matches acks by id and device: %s", async (_name, answer, outcome) => {
    const ctx = setup();
    const result = track(ctx.commands.send(WATER, "pumpEnable", 1));
    answer(ctx);
    await ctx.site.advance(0);
    if (outcome === "pending") {
      expect(result.done).toBe(false);
      expect(ctx.commands.inFlight).toBe(1);
      // The real one still counts.
      ctx.ack("water", { id: ctx.idOf(0), ok: true });
      await ctx.site.advance(0);
      expect(result).toMatchObject({ done: true, value: { value: 1 } });
    } else {
      expect(result.error).toBeInstanceOf(HubError);
      expect(result.error).toMatchObject({ code: outcome.code, message: expect.stringMatching(outcome.message) as unknown });
      expect(ctx.commands.counters.refused).toBe(1);
    }
  });

  it("times out a command nobody acknowledges, exactly after the ack timeout, and ignores the late ack", async () => {
    const { site, commands, ack, idOf } = setup();
    const result = track(commands.send(WATER, "heater", 1));
    await site.advance(ACK_TIMEOUT_MS - 1);
    expect(result.done).toBe(false);
    await site.advance(1);
    expect(result.error).toMatchObject({ code: "DEVICE_TIMEOUT", message: "device water did not acknowledge heater=1 within 500 ms" });
    expect(commands.inFlight).toBe(0);
    ack("water", { id: idOf(0), ok: true });
    await site.advance(0);
    expect(commands.counters).toEqual({ sent: 1, acked: 0, refused: 0, timeouts: 1 });
  });

  it.each([
    ["offline", (s: ReturnType<typeof setup>["site"]) => s.offline("water"), WATER, "pumpEnable", "DEVICE_OFFLINE", "device water is offline: command pumpEnable=1 not sent"],
    ["not declared in the config", () => undefined, asDeviceId("ghost"), "pumpEnable", "DEVICE_UNKNOWN", 'no device "ghost"'],
    ["without that actuator", () => undefined, WATER, "valve", "REQUEST_INVALID", 'device water has no actuator "valve"'],
    ["without any actuator", () => undefined, BUTTON, "pumpEnable", "REQUEST_INVALID", 'device button has no actuator "pumpEnable"'],
  ] as const)("refuses at once, sending nothing, to a device %s", async (_name, arrange, deviceId, actuator, code, message) => {
    const { site, commands, sent } = setup();
    arrange(site);
    const error = await rejection(commands.send(deviceId, actuator, 1));
    expect(error).toMatchObject({ code, message });
    expect(sent).toEqual([]);
    expect(commands.counters.sent).toBe(0);
  });

  it("refuses a device that is declared but unknown since the start", async () => {
    const site = buildSite({ rules: [] });
    const commands = new CommandService({ clock: site.clock, registry: site.registry, bus: site.bus }, { sendCommand: () => undefined }, ACK_TIMEOUT_MS);
    expect(await rejection(commands.send(WATER, "pumpEnable", 1))).toMatchObject({ code: "DEVICE_OFFLINE", message: "device water is unknown: command pumpEnable=1 not sent" });
  });

  it("fails everything pending for a device at once when it goes offline, and nothing of another's", async () => {
    const { site, commands } = setup();
    const a = track(commands.send(WATER, "pumpEnable", 1));
    const b = track(commands.send(WATER, "heater", 0));
    site.offline("water");
    await site.advance(0);
    expect([a.error, b.error]).toMatchObject([
      { code: "DEVICE_OFFLINE", message: "device water went offline: pumpEnable=1 not acknowledged" },
      { code: "DEVICE_OFFLINE", message: "device water went offline: heater=0 not acknowledged" },
    ]);
    expect(commands.inFlight).toBe(0);
    // Their timers were cancelled: no timeouts counted later.
    await site.advance(ACK_TIMEOUT_MS * 2);
    expect(commands.counters.timeouts).toBe(0);
  });
});
