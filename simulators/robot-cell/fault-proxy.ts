/**
 * A TCP front for the OPC UA server that can fail the way a network does: every client socket is
 * relayed to the server's own (loopback) port, so the simulator can cut all of them at once (a
 * pulled cable) or stop relaying for a while (a controller that stops answering) without reaching
 * into node-opcua's internals.
 */
import net from "node:net";
import type { Clock, Timer } from "../../hub/src/core/clock.ts";

export interface FaultProxyOptions {
  host: string;
  port: number;
  targetHost: string;
  targetPort: number;
  clock: Clock;
}

export interface FaultProxy {
  /** The port the proxy listens on (the one asked for, or the one the system gave for 0). */
  readonly port: number;
  /** Points the proxy at another server port (the server behind it was restarted elsewhere). */
  retarget(port: number): void;
  /** Resets every relayed connection: the client sees ECONNRESET, the server a closed socket. */
  dropConnections(): void;
  /** Stops relaying in both directions (bytes stay queued) for `ms`, new connections included. */
  suspend(ms: number): void;
  close(): Promise<void>;
}

interface Pair {
  client: net.Socket;
  upstream: net.Socket;
}

export async function startFaultProxy(opts: FaultProxyOptions): Promise<FaultProxy> {
  const pairs = new Set<Pair>();
  // Where connections go; settable, so the proxy can listen before the server behind it has a port.
  const target = { port: opts.targetPort };
  let resumeTimer: Timer | null = null;
  let suspendedUntil = 0;
  const suspended = (): boolean => resumeTimer !== null;

  const relay = (from: net.Socket, to: net.Socket): void => {
    from.on("data", (chunk: Buffer) => {
      if (to.write(chunk)) return;
      from.pause();
      to.once("drain", () => {
        if (!suspended()) from.resume();
      });
    });
  };

  const server = net.createServer((client) => {
    client.setNoDelay(true);
    const upstream = net.connect({ host: opts.targetHost, port: target.port });
    upstream.setNoDelay(true);
    const pair: Pair = { client, upstream };
    pairs.add(pair);
    if (suspended()) {
      client.pause();
      upstream.pause();
    }
    relay(client, upstream);
    relay(upstream, client);
    const close = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on("error", close).on("close", close);
    upstream.on("error", close).on("close", close);
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });

  const bound = server.address();
  return {
    port: typeof bound === "object" && bound !== null ? bound.port : opts.port,
    retarget(port) {
      target.port = port;
    },
    dropConnections() {
      for (const { client, upstream } of [...pairs]) {
        client.resetAndDestroy();
        upstream.destroy();
      }
      pairs.clear();
    },
    suspend(ms) {
      const until = opts.clock.now() + ms;
      if (suspended() && until <= suspendedUntil) return;
      suspendedUntil = until;
      resumeTimer?.cancel();
      for (const { client, upstream } of pairs) {
        client.pause();
        upstream.pause();
      }
      resumeTimer = opts.clock.setTimeout(() => {
        resumeTimer = null;
        for (const { client, upstream } of pairs) {
          client.resume();
          upstream.resume();
        }
      }, ms);
    },
    async close() {
      resumeTimer?.cancel();
      resumeTimer = null;
      for (const { client, upstream } of [...pairs]) {
        client.destroy();
        upstream.destroy();
      }
      pairs.clear();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A port that was free a moment ago (bind 0, read it, close). Another process may still take it. */
export async function freePort(host = "127.0.0.1"): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.listen(0, host, resolve);
  });
  const address = s.address();
  await new Promise<void>((resolve) => s.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("no TCP address");
  return address.port;
}
