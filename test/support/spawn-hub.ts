/**
 * Runs the hub as its own process through the real CLI, for tests that kill it (kill -9) or
 * need it to outlive a client.
 */
import { type ChildProcess, spawn } from "node:child_process";
import path from "node:path";

export interface HubProcess {
  proc: ChildProcess;
  httpPort: number;
  mqttPort: number;
  output: () => string;
  kill(signal: NodeJS.Signals): Promise<number | null>;
}

const ROOT = path.resolve(import.meta.dirname, "../..");

/**
 * Starts the hub on `configPath` and resolves once its banner names its ports. A hub that has not
 * got there within `startTimeoutMs` (60 s: a start under tsx takes 5-10 s, three times that on a
 * busy 2-core machine; a config with thousands of devices longer still) is killed and the start
 * rejected with what it printed.
 */
export async function spawnHub(configPath: string, env: NodeJS.ProcessEnv = {}, nodeArgs: string[] = [], startTimeoutMs = 60_000, options: { ownGroup?: boolean; compiled?: boolean } = {}): Promise<HubProcess> {
  // `compiled`: the hub as the service runs it (`node bin/tec-hub.js`, after `npm run build`), for the benches' figures; else the sources through tsx.
  const entry = options.compiled === true ? [path.join(ROOT, "bin/tec-hub.js")] : ["--import", "tsx", path.join(ROOT, "hub/src/cli.ts")];
  const proc = spawn(process.execPath, [...nodeArgs, ...entry, "start", configPath], {
    cwd: ROOT,
    // The readable format: its banner names the ports (JSON logs, the default without a terminal, carry them in a record at info level).
    env: { ...process.env, TEC_LOG_LEVEL: "warn", TEC_LOG_FORMAT: "pretty", ...env },
    stdio: ["ignore", "pipe", "pipe"],
    // A process group of its own (its pid is the group's id), as a shell gives a command it runs in
    // a terminal: `process.kill(-pid, "SIGINT")` is then what Ctrl-C does.
    detached: options.ownGroup === true,
  });
  let out = "";
  proc.stdout?.on("data", (d: Buffer) => (out += d.toString()));
  proc.stderr?.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => proc.once("exit", (code) => resolve(code)));
  const ports = await new Promise<{ http: number; mqtt: number }>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill("SIGKILL");
      reject(new Error(`hub did not start within ${startTimeoutMs / 1000} s:\n${out}`));
    }, startTimeoutMs);
    const check = () => {
      const http = /Dashboard\s+http:\/\/[^:]+:(\d+)/.exec(out);
      const mqtt = /MQTT\s+mqtt:\/\/[^:]+:(\d+)/.exec(out);
      if (http?.[1] !== undefined && mqtt?.[1] !== undefined) {
        clearTimeout(timer);
        resolve({ http: Number(http[1]), mqtt: Number(mqtt[1]) });
      }
    };
    proc.stdout?.on("data", check);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`hub exited with ${code}:\n${out}`));
    });
  });
  return {
    proc,
    httpPort: ports.http,
    mqttPort: ports.mqtt,
    output: () => out,
    async kill(signal) {
      proc.kill(signal);
      return exited;
    },
  };
}
