/**
 * The one formatting of times, results and firmware on the workbench (dashboard/src/core/format.ts),
 * table-driven: moments never shown as raw epoch numbers, a trip never as a green "ok", and one
 * firmware name where the meta and the station disagree. Pure; here because vitest runs test/**.
 */
import { describe, expect, it } from "vitest";
import { auditKind, dateTime, detailValue, firmwareName, isEpochMs, modelFirmware, type AuditKind } from "../../dashboard/src/core/format.ts";

const EXPIRES = 1796203457679;

describe("detail values", () => {
  it.each<[string, string, unknown, string]>([
    ["a session's end is a time", "expiresAt", EXPIRES, dateTime(EXPIRES)],
    ["any epoch-ms number is a time, whatever its key", "until", EXPIRES, dateTime(EXPIRES)],
    ["a small number stays a number", "bytes", 1234, "1234"],
    ["a count under an *At key that is no moment stays", "retriedAt", 0, "0"],
    ["text stays text", "from", "127.0.0.1", "127.0.0.1"],
    ["a boolean", "retrigger", false, "false"],
    ["a list", "stations", ["printer-1", "robot-cell"], '["printer-1","robot-cell"]'],
  ])("%s", (_name, key, value, expected) => {
    expect(detailValue(key, value)).toBe(expected);
  });

  it("knows a moment when it sees one", () => {
    expect([isEpochMs(EXPIRES), isEpochMs(1.5), isEpochMs(999_999_999_999), isEpochMs("1796203457679")]).toEqual([true, false, false, false]);
    expect(dateTime(EXPIRES)).not.toMatch(/\d{13}/);
  });
});

describe("firmware", () => {
  it.each<[string, Array<string | null | undefined>, string]>([
    ["the meta's name", ["sim-1.0.0"], "sim-1.0.0"],
    ["'unknown' gives way to the station's name", ["unknown", "Marlin 2.1.2.1"], "Marlin 2.1.2.1"],
    ["null gives way too", [null, "Marlin 2.1.2.1"], "Marlin 2.1.2.1"],
    ["nothing known: a dash, not 'unknown'", ["unknown", null, ""], "–"],
    ["trimmed", ["  Marlin 2.1.2.1 "], "Marlin 2.1.2.1"],
  ])("%s", (_name, candidates, expected) => {
    expect(firmwareName(...candidates)).toBe(expected);
  });

  it("puts model and firmware on one line", () => {
    expect(modelFirmware("TEC-SIM-WATER", "sim-1.0.0")).toBe("TEC-SIM-WATER · sim-1.0.0");
    expect(modelFirmware(null, "unknown", "Marlin 2.1.2.1")).toBe("– · Marlin 2.1.2.1");
  });
});

describe("audit kinds", () => {
  const hub = { name: "hub", role: "system" };
  const tech = { name: "technicus", role: "technician" };
  it.each<[string, string, "ok" | "refused" | "failed", { name: string; role: string }, AuditKind]>([
    ["a trip is a trip, not 'ok'", "interlock.tripped", "ok", hub, "trip"],
    ["its cause going away", "interlock.cleared", "ok", hub, "cleared"],
    ["the hub starting is an event", "hub.started", "ok", hub, "event"],
    ["a person's command that went through", "interlock.reset", "ok", tech, "ok"],
    ["a refused command", "interlock.reset", "refused", tech, "refused"],
    ["the hub failing to get a safe state confirmed", "interlock.escalated", "failed", hub, "failed"],
  ])("%s", (_name, action, result, actor, expected) => {
    expect(auditKind({ action, result, actor })).toBe(expected);
  });
});
