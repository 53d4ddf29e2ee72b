/**
 * Devices that speak the contract over MQTT. Translates topics into pipeline calls and commands into
 * `cmd/<actuator>` publishes; decides nothing.
 */
import type { CommandMessage } from "../../../../firmware-bridge/contract/messages.ts";
import { HUB_ID, commandTopic, parseDeviceTopic } from "../../../../firmware-bridge/contract/topics.ts";
import type { CommandTransport } from "../../core/actuators/commands.ts";
import type { TelemetryPipeline } from "../../core/telemetry/pipeline.ts";
import type { DeviceId } from "../../core/types.ts";
import type { MqttLink } from "../../transports/mqtt-link.ts";

export class MqttDeviceAdapter implements CommandTransport {
  constructor(private readonly ctx: { site: string; link: MqttLink; pipeline: TelemetryPipeline }) {}

  async start(): Promise<void> {
    const { site, link, pipeline } = this.ctx;
    const hubPrefix = `tec/${site}/${HUB_ID}/`;
    await link.subscribe(`tec/${site}/+/+`, (topic, payload) => {
      const parsed = parseDeviceTopic(site, topic);
      if (parsed === undefined) {
        if (!topic.startsWith(hubPrefix)) pipeline.reject(null, "bad-topic", `topic ${topic} is not part of the device contract`);
        return;
      }
      if (parsed.kind === "cmd") return;
      pipeline.ingestRaw(parsed.device, parsed.kind, payload);
    });
  }

  sendCommand(deviceId: DeviceId, actuator: string, message: CommandMessage): void {
    // Commands are never retained: a retained command would replay on every reconnect.
    this.ctx.link.publish(commandTopic(this.ctx.site, deviceId, actuator), JSON.stringify(message), { qos: 1, retain: false });
  }
}
