/**
 * The hub's own presence on MQTT: retained `_hub/status` (online now, offline on a clean stop, the
 * last will on an external broker) and `_hub/heartbeat` at 1 Hz. Devices drop every actuator to
 * safe when the heartbeat has been missing for 3 s.
 */
import { HUB_HEARTBEAT_PERIOD_MS, type HubHeartbeat } from "../../../../firmware-bridge/contract/messages.ts";
import { hubTopic } from "../../../../firmware-bridge/contract/topics.ts";
import type { Clock, Timer } from "../../core/clock.ts";
import type { MqttLink } from "../../transports/mqtt-link.ts";

export class HubPresence {
  private timer: Timer | null = null;
  private seq = 0;

  constructor(private readonly ctx: { site: string; link: MqttLink; clock: Clock }) {}

  start(): void {
    const { link, site, clock } = this.ctx;
    link.onConnection((up) => {
      if (up) link.publish(hubTopic(site, "status"), "online", { retain: true, qos: 1 });
    });
    link.publish(hubTopic(site, "status"), "online", { retain: true, qos: 1 });
    this.beat();
    this.timer = clock.setInterval(() => this.beat(), HUB_HEARTBEAT_PERIOD_MS);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = null;
    this.ctx.link.publish(hubTopic(this.ctx.site, "status"), "offline", { retain: true, qos: 1 });
  }

  private beat(): void {
    const msg: HubHeartbeat = { ts: this.ctx.clock.now(), seq: this.seq++ };
    this.ctx.link.publish(hubTopic(this.ctx.site, "heartbeat"), JSON.stringify(msg));
  }
}
