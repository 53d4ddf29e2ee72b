/**
 * A real Mosquitto broker for tests of the hub's external-broker mode, on a free loopback port,
 * with its own config file (Mosquitto 2 listens on a port only with a `listener` line).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export interface Mosquitto {
  url: string;
  port: number;
  pid: number;
  stop(): Promise<void>;
  /** Stops the broker (SIGKILL: no goodbye to anyone) and starts it again on the same port. */
  restart(downMs?: number): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr !== null ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const c = net.connect(port, "127.0.0.1");
      c.once("connect", () => {
        c.destroy();
        resolve(true);
      });
      c.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`mosquitto did not open port ${port} within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export async function startMosquitto(): Promise<Mosquitto> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "tec-mosquitto-"));
  const port = await freePort();
  const conf = path.join(dir, "mosquitto.conf");
  writeFileSync(conf, [`listener ${port} 127.0.0.1`, "allow_anonymous true", "persistence false", "set_tcp_nodelay true", "log_dest stderr", "log_type error", "log_type warning", ""].join("\n"));
  const launch = async (): Promise<{ proc: ChildProcess; exited: Promise<void> }> => {
    const proc: ChildProcess = spawn("mosquitto", ["-c", conf], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    proc.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    const exited = new Promise<void>((resolve) => proc.once("exit", () => resolve()));
    try {
      await waitForPort(port, 5000);
    } catch (error) {
      proc.kill("SIGKILL");
      throw new Error(`${error instanceof Error ? error.message : String(error)}; is mosquitto installed (apt-get install mosquitto)? ${stderr}`);
    }
    return { proc, exited };
  };
  let current = await launch();
  return {
    url: `mqtt://127.0.0.1:${port}`,
    port,
    get pid() {
      return current.proc.pid ?? 0;
    },
    async stop() {
      current.proc.kill("SIGTERM");
      await current.exited;
      rmSync(dir, { recursive: true, force: true });
    },
    async restart(downMs = 500) {
      current.proc.kill("SIGKILL");
      await current.exited;
      await new Promise((r) => setTimeout(r, downMs));
      current = await launch();
    },
  };
}
