/**
 * The hub under benchmark: its own process through the real CLI, compiled as the service runs it
 * (`npm run bench` builds it first), with a config written to the
 * suite's temporary folder, everything on loopback and free ports, and the small REST calls the
 * suites make to it.
 */
import { writeFileSync } from "node:fs";
import path from "node:path";
import { stringify } from "yaml";
import type { HubConfigInput } from "../../hub/src/config/schema.ts";
import { freePort } from "../../test/support/mosquitto.ts";
import { spawnHub, type HubProcess } from "../../test/support/spawn-hub.ts";

/** A bench site: no demo simulators, no OPC UA server unless `config` asks for one, history in `dir`. */
export function benchConfig(dir: string, config: Partial<HubConfigInput> = {}): HubConfigInput {
  return {
    site: "bench",
    siteName: "Benchmark",
    demo: true,
    http: { host: "127.0.0.1", port: 0 },
    broker: { mode: "embedded", host: "127.0.0.1", port: 0 },
    storage: { path: path.join(dir, "bench.db") },
    opcua: { enabled: false, pkiFolder: path.join(dir, "pki") },
    simulators: { tinyHouse: { enabled: false } },
    ...config,
  };
}

/** The hub's OPC UA server switched on, on loopback and a free port, its certificates in `dir`. */
export async function benchOpcua(dir: string): Promise<NonNullable<HubConfigInput["opcua"]>> {
  return { enabled: true, host: "127.0.0.1", port: await freePort(), pkiFolder: path.join(dir, "pki") };
}

/** Writes `config` as `dir/bench.yaml` and starts the hub on it. */
export async function startBenchHub(dir: string, config: HubConfigInput, nodeArgs: string[] = []): Promise<HubProcess> {
  const configPath = path.join(dir, "bench.yaml");
  writeFileSync(configPath, stringify(config));
  return spawnHub(configPath, {}, nodeArgs, undefined, { compiled: true });
}

/**
 * As startBenchHub, with `startTimeoutMs` to start instead of the default 20 s: a hub that declares
 * thousands of devices with its OPC UA server on needs 10-20 s on a busy 2-core machine.
 */
export async function startBenchHubWithin(startTimeoutMs: number, dir: string, config: HubConfigInput, nodeArgs: string[] = []): Promise<HubProcess> {
  const configPath = path.join(dir, "bench.yaml");
  writeFileSync(configPath, stringify(config));
  return spawnHub(configPath, {}, nodeArgs, startTimeoutMs, { compiled: true });
}

/** Logs in over REST; the token for `command`. */
export async function login(http: string, name: string, secret: string): Promise<string> {
  const r = await fetch(`${http}/api/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ name, secret }) });
  const body = (await r.json()) as { ok: boolean; result?: { token: string }; message?: string };
  if (body.result === undefined) throw new Error(`login as ${name} refused: ${body.message ?? r.status}`);
  return body.result.token;
}

/** Runs a hub command over REST as the holder of `token`. */
export async function command(http: string, token: string, name: string, params: object = {}): Promise<{ ok: boolean; message?: string }> {
  const r = await fetch(`${http}/api/commands/${name}`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify(params) });
  return (await r.json()) as { ok: boolean; message?: string };
}
