/**
 * The command registry over socket.io, on the same connection as the live stream.
 *
 *   io(url, { auth: { token } })                       no token: a kiosk
 *   socket.emit("command", { name, params }, (reply) => …)
 *   socket.emit("whoami", (reply) => …)                 { name, role, expiresAt | null }
 *
 * The token given in the handshake is checked again on every command, so a session that expired
 * or was logged out since the socket connected commands nothing: its socket is a kiosk now. A
 * malformed message is answered through its ack, or, if it has none, with `command:rejected`;
 * it never reaches the registry and never takes the hub down.
 */
import type { Server, Socket } from "socket.io";
import { z } from "zod";
import type { Reply } from "../core/errors.ts";
import { kioskActor, type AuthService } from "./auth.ts";
import { describeIssues, type CommandRegistry } from "./commands.ts";

export const COMMAND_EVENTS = { command: "command", whoami: "whoami", rejected: "command:rejected" } as const;

export interface WhoAmI {
  name: string;
  role: string;
  expiresAt: number | null;
}

const CommandMessage = z
  .object({
    name: z.string().max(80),
    params: z.unknown().optional(),
  })
  .strict();

type Ack = (reply: Reply<unknown>) => void;

export function attachLiveCommands(io: Server, deps: { commands: CommandRegistry; auth: AuthService }): void {
  const { commands, auth } = deps;
  io.on("connection", (socket) => {
    const token = handshakeToken(socket);

    socket.on(COMMAND_EVENTS.command, (...args: unknown[]) => {
      const ack = lastFunction(args);
      const parsed = CommandMessage.safeParse(args[0]);
      if (ack === undefined) {
        // Without an ack the caller could never learn the outcome: refuse rather than act blind.
        socket.emit(COMMAND_EVENTS.rejected, malformed("a command needs an acknowledgement callback for its reply"));
        return;
      }
      if (!parsed.success) {
        ack(malformed(describeIssues(parsed.error, "(message)")));
        return;
      }
      // invoke never rejects; the ack of a socket that has gone away does nothing.
      void commands.invoke(parsed.data.name, parsed.data.params ?? {}, auth.actorFor(token), socket.handshake.address).then(ack);
    });

    socket.on(COMMAND_EVENTS.whoami, (...args: unknown[]) => {
      const ack = lastFunction(args);
      const s = auth.session(token);
      const actor = s?.actor ?? kioskActor();
      const result: WhoAmI = { name: actor.name, role: actor.role, expiresAt: s?.expiresAt ?? null };
      if (ack !== undefined) ack({ ok: true, result });
      else socket.emit(COMMAND_EVENTS.whoami, { ok: true, result });
    });
  });
}

function malformed(why: string): Reply<unknown> {
  return { ok: false, code: "REQUEST_INVALID", message: `command message must be { name, params } with an ack: ${why}` };
}

function handshakeToken(socket: Socket): string | undefined {
  const a: unknown = socket.handshake.auth;
  if (typeof a === "object" && a !== null && "token" in a && typeof a.token === "string") return a.token;
  return undefined;
}

/** socket.io passes the ack as the last argument, when the client gave one. */
function lastFunction(args: unknown[]): Ack | undefined {
  const last = args[args.length - 1];
  return typeof last === "function" ? (last as Ack) : undefined;
}
