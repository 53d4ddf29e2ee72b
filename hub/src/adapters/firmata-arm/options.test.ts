import { describe, expect, it } from "vitest";
import { DeviceConfig } from "../../config/schema.ts";
import { HubError } from "../../core/errors.ts";
import { ARM_DEFAULTS, type FirmataArmOptions, resolveArmOptions } from "./options.ts";

const base: FirmataArmOptions = {
  url: "serial:///dev/ttyACM0",
  servos: [3, 5, 6, 9].map((pin) => ({ pin, minDeg: 10, maxDeg: 170, homeDeg: 90 })),
  doorPin: 2,
  programs: { wave: [{ anglesDeg: [90, 90, 90, 90], durationMs: 500 }] },
  maxSpeedDegS: 90,
};

function problems(patch: Partial<FirmataArmOptions>): string[] {
  try {
    resolveArmOptions({ ...base, ...patch });
    return [];
  } catch (error) {
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).code).toBe("CONFIG_INVALID");
    return ((error as HubError).details as { problems: string[] }).problems;
  }
}

describe("resolveArmOptions", () => {
  it("fills in StandardFirmata's 57600 baud and the timing defaults", () => {
    const o = resolveArmOptions(base);
    expect(o.link).toEqual({ kind: "serial", path: "/dev/ttyACM0", baud: 57600 });
    expect(o.stepMs).toBe(50);
    expect(o.reportVersionTimeoutMs).toBe(1000);
    expect(o.doorPin).toBe(2);
    expect(resolveArmOptions({ ...base, url: "serial:///dev/ttyUSB0?baud=115200", stepMs: 20 })).toMatchObject({ link: { baud: 115200 }, stepMs: 20 });
    expect(resolveArmOptions({ ...base, doorPin: undefined }).doorPin).toBeNull();
    expect(o.handshakeTimeoutMs).toBe(10_000);
  });

  it.each([
    ["a USB id, looked up on every connect", "serial://?vid=2341&pid=0043&serial=85736323838351F0E1E1", { kind: "serial-usb", vendorId: "2341", productId: "0043", serialNumber: "85736323838351F0E1E1", baud: 57600 }],
    ["a /dev/serial/by-id link", "serial:///dev/serial/by-id/usb-Arduino__www.arduino.cc__0043_85736323838351F0E1E1-if00", { kind: "serial", path: "/dev/serial/by-id/usb-Arduino__www.arduino.cc__0043_85736323838351F0E1E1-if00", baud: 57600 }],
    ["StandardFirmataWiFi over TCP", "tcp://192.168.4.20:3030", { kind: "tcp", host: "192.168.4.20", port: 3030 }],
    ["StandardFirmataWiFi's port 3030 when none is given", "tcp://esp-arm.local", { kind: "tcp", host: "esp-arm.local", port: 3030 }],
  ])("addresses a board by %s", (_name, url, link) => {
    expect(resolveArmOptions({ ...base, url }).link).toEqual(link);
  });

  it("has the config schema's handshake default", () => {
    const device = DeviceConfig.parse({ kind: "robot-firmata", id: "arm", name: "Arm", url: "tcp://esp-arm.local", servos: base.servos, programs: base.programs });
    expect(device.kind === "robot-firmata" && device.handshakeTimeoutMs).toBe(ARM_DEFAULTS.handshakeTimeoutMs);
  });

  const cases: Array<[string, Partial<FirmataArmOptions>, RegExp]> = [
    ["an mqtt url", { url: "mqtt://127.0.0.1:1883" }, /^url: "mqtt:\/\/127\.0\.0\.1:1883": unknown transport/],
    ["half a USB id", { url: "serial://?vid=2341" }, /^url: .*vid and pid must both be given/],
    ["a handshake shorter than a Uno's boot", { handshakeTimeoutMs: 500 }, /^handshakeTimeoutMs: 500 must be 1000\.\.120000/],
    ["not a url", { url: "ttyACM0" }, /^url: "ttyACM0" is not a transport URL/],
    ["three joints", { servos: base.servos.slice(0, 3) }, /^servos: 3 joints/],
    ["a pin used twice", { servos: [...base.servos.slice(0, 3), { pin: 3, minDeg: 0, maxDeg: 180, homeDeg: 90 }] }, /pin 3 is used twice/],
    ["RX as a servo pin", { servos: [...base.servos.slice(0, 3), { pin: 0, minDeg: 0, maxDeg: 180, homeDeg: 90 }] }, /^servos\[3\]\.pin: 0 is not a digital pin/],
    ["limits beyond 180", { servos: [...base.servos.slice(0, 3), { pin: 10, minDeg: 0, maxDeg: 270, homeDeg: 90 }] }, /^servos\[3\]: limits 0\.\.270/],
    ["home outside the limits", { servos: [...base.servos.slice(0, 3), { pin: 10, minDeg: 10, maxDeg: 90, homeDeg: 120 }] }, /^servos\[3\]\.homeDeg: 120/],
    ["the door on a servo pin", { doorPin: 5 }, /^doorPin: 5/],
    ["no speed limit", { maxSpeedDegS: 0 }, /^maxSpeedDegS: 0/],
    ["a waypoint with too few angles", { programs: { bad: [{ anglesDeg: [1, 2, 3], durationMs: 10 }] } }, /^programs\.bad\[0\]\.anglesDeg: needs 4 numbers/],
    ["a negative duration", { programs: { bad: [{ anglesDeg: [1, 2, 3, 4], durationMs: -1 }] } }, /^programs\.bad\[0\]\.durationMs: -1/],
    ["an empty program", { programs: { empty: [] } }, /^programs\.empty: no waypoints/],
    ["a step too short", { stepMs: 1 }, /^stepMs: 1/],
  ];
  it.each(cases)("refuses %s", (_name, patch, pattern) => {
    expect(problems(patch).some((p) => pattern.test(p))).toBe(true);
  });

  it("names every problem at once", () => {
    expect(problems({ maxSpeedDegS: -1, doorPin: 3, stepMs: 5000 })).toHaveLength(3);
  });
});
