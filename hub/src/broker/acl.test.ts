import { describe, expect, it } from "vitest";
import { canPublish, canSubscribe, type Identity } from "./acl.ts";

const pump: Identity = { role: "device", deviceId: "water" };
const observer: Identity = { role: "observer", username: "observer" };

describe("publish ACL", () => {
  it.each([
    ["tec/th/water/tele", true, false],
    ["tec/th/water/status", true, true],
    ["tec/th/water/meta", true, true],
    ["tec/th/water/ack", true, false],
    ["tec/th/battery/tele", false, false],
    ["tec/th/water/cmd/pumpEnable", false, false],
    ["tec/th/_hub/heartbeat", false, false],
    ["tec/other/water/tele", false, false],
    ["tec/th/water/tele/extra", false, false],
  ])("device water -> %s allowed=%s", (topic, allowed, retain) => {
    const d = canPublish("th", pump, topic);
    expect(d.ok).toBe(allowed);
    if (d.ok) expect(d.retain).toBe(retain);
    else expect(d.reason).toMatch(/water/);
  });

  it("refuses every publish from the observer", () => {
    const d = canPublish("th", observer, "tec/th/water/tele");
    expect(d).toEqual({ ok: false, reason: expect.stringMatching(/read-only/) as unknown });
  });
});

describe("subscribe ACL", () => {
  it.each([
    ["tec/th/water/cmd/+", true],
    ["tec/th/water/cmd/#", true],
    ["tec/th/water/cmd/pumpEnable", true],
    ["tec/th/_hub/heartbeat", true],
    ["tec/th/_hub/#", true],
    ["tec/th/battery/cmd/+", false],
    ["tec/th/+/cmd/+", false],
    ["tec/#", false],
    ["#", false],
    ["tec/th/water/cmd/", false],
    ["tec/th/water/tele", false],
  ])("device water -> %s allowed=%s", (filter, allowed) => {
    expect(canSubscribe("th", pump, filter).ok).toBe(allowed);
  });

  it("lets the observer watch everything but $SYS", () => {
    expect(canSubscribe("th", observer, "#").ok).toBe(true);
    expect(canSubscribe("th", observer, "tec/th/+/tele").ok).toBe(true);
    expect(canSubscribe("th", observer, "$SYS/#").ok).toBe(false);
  });
});
