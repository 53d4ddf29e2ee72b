/**
 * The simulated Bambu Lab printer's file server: implicit FTPS (TLS from the first byte, port 990
 * on the real printers), user `bblp` and the access code, passive data connections over TLS that
 * must resume the control connection's TLS session (as vsftpd's `require_ssl_reuse` on the real
 * printers asks). Only what an FTP client sends to upload: USER, PASS, FEAT, OPTS, TYPE, STRU,
 * PBSZ, PROT, PWD, CWD, EPSV, PASV, STOR, SIZE, NOOP, SYST, QUIT.
 */
import { randomBytes } from "node:crypto";
import type { AddressInfo, Socket } from "node:net";
import path from "node:path/posix";
import tls from "node:tls";

export interface FtpsServerOptions {
  cert: string;
  key: string;
  port?: number;
  /** True when this user and password may log in (checked on PASS). */
  login(user: string, password: string): boolean;
  /** A file arrived (absolute path on the printer, e.g. `/calibration-cube.gcode`). */
  received(file: string, data: Buffer): void;
  /** Refuse data connections that do not resume the control connection's TLS session (default true). */
  requireSessionReuse?: boolean;
  log?: (msg: string) => void;
}

export interface FtpsServer {
  port: number;
  /** Sizes of the files stored, by absolute path. */
  files: Map<string, number>;
  /** Every control and data connection closed at once. */
  dropAll(): void;
  close(): Promise<void>;
}

const MAX_UPLOAD = 64 * 1024 * 1024;

export async function startFtpsServer(opts: FtpsServerOptions): Promise<FtpsServer> {
  // One ticket key for the control and data listeners, so a data connection can resume the control session.
  const ticketKeys = randomBytes(48);
  const sockets = new Set<Socket>();
  const dataServers = new Set<tls.Server>();
  const files = new Map<string, number>();
  const log = opts.log ?? (() => {});
  const requireReuse = opts.requireSessionReuse ?? true;

  const server = tls.createServer({ cert: opts.cert, key: opts.key, ticketKeys }, (control) => {
    sockets.add(control);
    control.on("close", () => sockets.delete(control));
    control.on("error", () => control.destroy());
    session(control);
  });

  function session(control: tls.TLSSocket): void {
    let user: string | null = null;
    let loggedIn = false;
    let cwd = "/";
    let buffer = "";
    let passive: { server: tls.Server; conn: Promise<tls.TLSSocket> } | null = null;
    let protP = false;
    const reply = (line: string): void => {
      if (!control.destroyed) control.write(`${line}\r\n`);
    };
    reply("220 Bambu Lab FTPS (simulated)");

    const openPassive = async (): Promise<number> => {
      passive?.server.close();
      const ds = tls.createServer({ cert: opts.cert, key: opts.key, ticketKeys });
      dataServers.add(ds);
      const conn = new Promise<tls.TLSSocket>((resolve, reject) => {
        ds.once("secureConnection", (s: tls.TLSSocket) => {
          sockets.add(s);
          s.on("close", () => sockets.delete(s));
          s.on("error", () => s.destroy());
          ds.close();
          dataServers.delete(ds);
          if (requireReuse && !s.isSessionReused()) {
            s.destroy();
            reject(new Error("522 data connections must resume the TLS session of the control connection"));
            return;
          }
          resolve(s);
        });
        ds.once("close", () => reject(new Error("425 no data connection")));
      });
      conn.catch(() => {});
      await new Promise<void>((resolve) => ds.listen(0, "127.0.0.1", resolve));
      passive = { server: ds, conn };
      return (ds.address() as AddressInfo).port;
    };

    const store = async (name: string): Promise<void> => {
      if (passive === null) return reply("425 Use PASV or EPSV first.");
      if (!protP) return reply("522 PROT P required.");
      const { conn } = passive;
      passive = null;
      let data: tls.TLSSocket;
      try {
        data = await conn;
      } catch (error) {
        return reply(error instanceof Error ? error.message : "425 no data connection");
      }
      reply("150 Ok to send data.");
      const chunks: Buffer[] = [];
      let size = 0;
      data.on("data", (c: Buffer) => {
        size += c.length;
        if (size > MAX_UPLOAD) data.destroy();
        else chunks.push(c);
      });
      data.once("close", () => {
        if (size > MAX_UPLOAD) return reply("552 File too big.");
        const file = path.resolve(cwd, name);
        const body = Buffer.concat(chunks);
        files.set(file, body.length);
        try {
          opts.received(file, body);
          log(`stored ${file} (${body.length} bytes)`);
          reply("226 Transfer complete.");
        } catch (error) {
          reply(`451 ${error instanceof Error ? error.message : String(error)}`);
        }
      });
      data.once("end", () => data.end());
    };

    const handle = async (line: string): Promise<void> => {
      const sp = line.indexOf(" ");
      const cmd = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
      const arg = sp < 0 ? "" : line.slice(sp + 1);
      const open = ["USER", "PASS", "FEAT", "OPTS", "QUIT", "PBSZ", "PROT", "NOOP", "SYST"];
      if (!loggedIn && !open.includes(cmd)) return reply("530 Please login with USER and PASS.");
      switch (cmd) {
        case "USER":
          user = arg;
          loggedIn = false;
          return reply("331 Please specify the password.");
        case "PASS":
          if (user !== null && opts.login(user, arg)) {
            loggedIn = true;
            return reply("230 Login successful.");
          }
          return reply("530 Login incorrect.");
        case "FEAT":
          control.write("211-Features:\r\n EPSV\r\n PASV\r\n PBSZ\r\n PROT\r\n SIZE\r\n UTF8\r\n211 End\r\n");
          return;
        case "OPTS":
        case "NOOP":
          return reply("200 OK.");
        case "SYST":
          return reply("215 UNIX Type: L8");
        case "TYPE":
          return reply("200 Switching to Binary mode.");
        case "STRU":
          return reply(arg.toUpperCase() === "F" ? "200 Structure set to F." : "504 Bad STRU command.");
        case "PBSZ":
          return reply("200 PBSZ set to 0.");
        case "PROT":
          protP = arg.toUpperCase() === "P";
          return reply(protP ? "200 PROT now Private." : "536 PROT P required.");
        case "PWD":
          return reply(`257 "${cwd}" is the current directory`);
        case "CWD":
          cwd = path.resolve(cwd, arg || "/");
          return reply("250 Directory successfully changed.");
        case "EPSV":
          return reply(`229 Entering Extended Passive Mode (|||${await openPassive()}|)`);
        case "PASV": {
          const port = await openPassive();
          return reply(`227 Entering Passive Mode (127,0,0,1,${port >> 8},${port & 255}).`);
        }
        case "STOR":
          return store(arg);
        case "SIZE": {
          const size = files.get(path.resolve(cwd, arg));
          return reply(size === undefined ? "550 Could not get file size." : `213 ${size}`);
        }
        case "QUIT":
          reply("221 Goodbye.");
          control.end();
          return;
        default:
          return reply("502 Command not implemented.");
      }
    };

    // One command at a time, in order.
    let chain = Promise.resolve();
    control.on("data", (chunk: Buffer) => {
      buffer += chunk.toString("utf8");
      if (buffer.length > 8192) {
        control.destroy();
        return;
      }
      for (let i = buffer.indexOf("\n"); i >= 0; i = buffer.indexOf("\n")) {
        const line = buffer.slice(0, i).replace(/\r$/, "");
        buffer = buffer.slice(i + 1);
        chain = chain.then(() => handle(line)).catch((error: unknown) => reply(`451 ${error instanceof Error ? error.message : String(error)}`));
      }
    });
    control.on("close", () => passive?.server.close());
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port ?? 0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });

  return {
    port: (server.address() as AddressInfo).port,
    files,
    dropAll() {
      for (const s of sockets) s.destroy();
      for (const ds of dataServers) ds.close();
    },
    async close() {
      for (const s of sockets) s.destroy();
      for (const ds of dataServers) ds.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
