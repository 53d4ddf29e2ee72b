import { describe, expect, it } from "vitest";
import { silentLogger } from "./core/logger.ts";
import { Lifecycle } from "./lifecycle.ts";

describe("Lifecycle", () => {
  it("stops in reverse order of starting; a failing step is reported and the rest still run", async () => {
    const life = new Lifecycle(silentLogger);
    const log: string[] = [];
    life.opened("database", () => void log.push("close database"));
    await life.start("broker", () => void log.push("start broker"), () => void log.push("stop broker"));
    await life.start("stations", () => void log.push("start stations"), () => {
      throw new Error("a driver would not close");
    });
    await life.start("http", () => void log.push("start http"), () => Promise.resolve(void log.push("stop http")));
    expect(life.stopOrder()).toEqual(["http", "stations", "broker", "database"]);
    const failures = await life.stopAll();
    expect(failures).toEqual([{ name: "stations", error: "a driver would not close" }]);
    expect(log).toEqual(["start broker", "start stations", "start http", "stop http", "stop broker", "close database"]);
  });

  it("a component whose start fails is not stopped, what started before it is, and stopping twice stops once", async () => {
    const life = new Lifecycle(silentLogger);
    const log: string[] = [];
    life.opened("database", () => void log.push("close database"));
    await life.start("broker", () => void log.push("start broker"), () => void log.push("stop broker"));
    await expect(
      life.start("http", () => {
        throw new Error("port in use");
      }, () => void log.push("stop http")),
    ).rejects.toThrow("port in use");
    await Promise.all([life.stopAll(), life.stopAll()]);
    await life.stopAll();
    expect(log).toEqual(["start broker", "stop broker", "close database"]);
  });
});
