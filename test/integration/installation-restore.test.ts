/**
 * After an emergency stop and its reset, the Tiny House's own holds (the config's `hold:`) stay off
 * until someone brings the installation back on, in one action, each hold through its permissives
 * (issue 11, finding 4). Against the demo: the real Tiny House simulators on the embedded broker.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { InstallationItem, RestoreResult } from "../../hub/src/core/actuators/installation.ts";
import { bootDemoHub, type DemoHub } from "../support/demo-hub.ts";
import { until } from "./harness.ts";

describe("installation back on after an emergency stop", () => {
  let d: DemoHub;
  let juf: string;
  let tech: string;
  const items = async (token: string) => {
    const res = await fetch(`${d.url}/api/installation`, { headers: { authorization: `Bearer ${token}` } });
    return ((await res.json()) as { result: InstallationItem[] }).result;
  };

  beforeAll(async () => {
    d = await bootDemoHub({ dashboard: false });
    juf = await d.login("begeleider", "1234");
    tech = await d.login("technicus", "technician");
  }, 120_000);
  afterAll(async () => {
    await d?.close();
  });

  it("shows what the stop switched off, restores nothing by itself, and brings it back in one action", async () => {
    // The demo's configured holds come up on their own at start (the installation's normal state).
    const configured = d.config.devices.flatMap((dev) => (dev.kind === "mqtt" || dev.kind === "serial" ? Object.keys(dev.hold).map((a) => `${dev.id}.${a}`) : []));
    expect(configured.length).toBeGreaterThanOrEqual(5);
    const all = await until(async () => {
      const list = await items(juf);
      return list.length === configured.length && list.every((i) => i.state === "held") ? list : undefined;
    }, 60_000, "every configured hold held");
    expect(all.map((i) => `${i.deviceId}.${i.actuator}`).sort()).toEqual([...configured].sort());
    expect((await fetch(`${d.url}/api/installation`)).status).toBe(401);

    expect(await d.command(juf, "estop.trigger")).toMatchObject({ ok: true });
    const off = await until(async () => {
      const list = await items(juf);
      return list.every((i) => i.state === "off") ? list : undefined;
    }, 10_000, "every configured hold off");
    // While the stop holds, each says why it may not come back.
    expect(off.every((i) => i.blocked !== null && /Noodstop|noodstop/.test(i.blocked.nl))).toBe(true);
    const early = (await d.command(juf, "installation.restore")) as { ok: boolean; result: RestoreResult };
    expect(early.ok).toBe(true);
    expect(early.result.restored).toEqual([]);
    expect(early.result.refused).toHaveLength(configured.length);

    await until(async () => (await d.command(juf, "interlock.reset", { id: "estop" })).ok, 15_000, "e-stop reset");
    // A reset restarts nothing: still off, now each free to come back.
    const ready = await until(async () => {
      const list = await items(juf);
      return list.every((i) => i.state === "off") && list.filter((i) => i.blocked === null).length > 0 ? list : undefined;
    }, 15_000, "off, and free to come back");
    expect(ready.some((i) => i.state !== "off")).toBe(false);

    const back = (await d.command(juf, "installation.restore")) as { ok: boolean; result: RestoreResult };
    expect(back.ok).toBe(true);
    // Whatever a still-unhappy interlock forbids stays off, with its reason; everything else is back.
    expect(back.result.restored.length + back.result.refused.length).toBe(configured.length);
    expect(back.result.restored.length).toBeGreaterThanOrEqual(1);
    for (const r of back.result.refused) expect(r.reason.en.length).toBeGreaterThan(0);
    await until(async () => (await items(juf)).filter((i) => i.state === "held").length === back.result.restored.length, 15_000, "restored holds held");
    // Each hold it started, and each it could not, is in the audit log under the person who asked.
    const audit = await fetch(`${d.url}/api/audit?action=actuator.start&limit=50`, { headers: { authorization: `Bearer ${tech}` } });
    const rows = ((await audit.json()) as { result: { records: Array<{ actor: { name: string }; reason: string | null; result: string }> } }).result.records;
    expect(rows.filter((r) => r.actor.name === "begeleider" && r.reason === "installation back on" && r.result === "ok")).toHaveLength(back.result.restored.length);
  }, 180_000);
});
