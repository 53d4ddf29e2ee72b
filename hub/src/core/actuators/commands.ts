/**
 * The one path by which the hub commands an actuator: `cmd/<actuator>` out, `ack` back, with a
 * timeout on every request and everything pending failed at once when the device drops.
 */
import { randomUUID } from "node:crypto";
import type { AckMessage, CommandMessage } from "../../../../firmware-bridge/contract/messages.ts";
import type { Bus } from "../bus.ts";
import type { Clock, Timer } from "../clock.ts";
import { HubError } from "../errors.ts";
import type { AckSink } from "../telemetry/pipeline.ts";
import type { Registry } from "../registry/registry.ts";
import type { DeviceId } from "../types.ts";

export interface CommandTransport {
  sendCommand(deviceId: DeviceId, actuator: string, message: CommandMessage): void;
}

export interface CommandResult {
  id: string;
  deviceId: DeviceId;
  actuator: string;
  value: number;
  leaseMs: number;
  latencyMs: number;
}

interface Pending {
  deviceId: DeviceId;
  actuator: string;
  value: number;
  leaseMs: number;
  sentAt: number;
  timer: Timer;
  resolve: (r: CommandResult) => void;
  reject: (e: HubError) => void;
}

export class CommandService implements AckSink {
  private readonly pending = new Map<string, Pending>();
  readonly counters = { sent: 0, acked: 0, refused: 0, timeouts: 0 };

  constructor(
    private readonly ctx: { clock: Clock; registry: Registry; bus: Bus },
    private readonly transport: CommandTransport,
    private readonly ackTimeoutMs = 3000,
  ) {
    ctx.bus.on("device:changed", "commands", (e) => {
      if (e.state === "offline") this.failDevice(e.deviceId, `device ${e.deviceId} went offline`);
    });
  }

  /** Sends one command; resolves on a positive ack, rejects with a HubError that says why not. */
  send(deviceId: DeviceId, actuator: string, value: number, leaseMs?: number): Promise<CommandResult> {
    const view = this.ctx.registry.view(deviceId);
    if (view === undefined) return Promise.reject(new HubError("DEVICE_UNKNOWN", `no device "${deviceId}"`));
    if (view.state === "offline" || view.state === "unknown") {
      return Promise.reject(new HubError("DEVICE_OFFLINE", `device ${deviceId} is ${view.state}: command ${actuator}=${value} not sent`));
    }
    const spec = view.actuators[actuator];
    if (spec === undefined) return Promise.reject(new HubError("REQUEST_INVALID", `device ${deviceId} has no actuator "${actuator}"`));
    const lease = Math.min(leaseMs ?? spec.leaseMs, spec.leaseMs);
    const id = randomUUID();
    const sentAt = this.ctx.clock.now();
    return new Promise<CommandResult>((resolve, reject) => {
      const timer = this.ctx.clock.setTimeout(() => {
        this.pending.delete(id);
        this.counters.timeouts += 1;
        reject(new HubError("DEVICE_TIMEOUT", `device ${deviceId} did not acknowledge ${actuator}=${value} within ${this.ackTimeoutMs} ms`));
      }, this.ackTimeoutMs);
      this.pending.set(id, { deviceId, actuator, value, leaseMs: lease, sentAt, timer, resolve, reject });
      this.counters.sent += 1;
      this.transport.sendCommand(deviceId, actuator, { id, value, leaseMs: lease });
    });
  }

  ack(deviceId: DeviceId, ack: AckMessage): void {
    const p = this.pending.get(ack.id);
    if (p === undefined || p.deviceId !== deviceId) return; // late or foreign ack: nothing waits for it
    this.pending.delete(ack.id);
    p.timer.cancel();
    if (ack.ok) {
      this.counters.acked += 1;
      p.resolve({ id: ack.id, deviceId, actuator: p.actuator, value: p.value, leaseMs: p.leaseMs, latencyMs: this.ctx.clock.now() - p.sentAt });
    } else {
      this.counters.refused += 1;
      p.reject(new HubError("DEVICE_REFUSED", `device ${deviceId} refused ${p.actuator}=${p.value}: ${ack.error ?? "no reason given"}`));
    }
  }

  get inFlight(): number {
    return this.pending.size;
  }

  private failDevice(deviceId: DeviceId, reason: string): void {
    for (const [id, p] of this.pending) {
      if (p.deviceId !== deviceId) continue;
      this.pending.delete(id);
      p.timer.cancel();
      p.reject(new HubError("DEVICE_OFFLINE", `${reason}: ${p.actuator}=${p.value} not acknowledged`));
    }
  }
}
