/**
 * node-opcua writes its own warnings straight to the console, between the hub's log lines and
 * through the banner. Routed here into the hub's logger instead, once, before any OPC UA part runs.
 *
 * NODE-OPCUA-W27 ("you need to use node flag --security-revert=CVE-2023-46809 if you have issue
 * with RSA PKCS#1 v1.5") is printed on every start on Node 20: it concerns only the deprecated
 * Basic128Rsa15 and Basic256 security policies, which neither the hub's OPC UA server (None,
 * Basic256Sha256) nor its robot client (None) offers or uses, so nobody can act on it: debug level.
 */
import type { Logger } from "../core/logger.ts";

const NOT_ACTIONABLE = /NODE-OPCUA-W27|security-revert=CVE-2023-46809|Creating default certificate/;
let routed = false;

export async function routeOpcuaLogs(logger: Logger): Promise<void> {
  if (routed) return;
  routed = true;
  const debug = await import("node-opcua-debug");
  const log = logger.child({ module: "opcua-lib" });
  const line = (args: unknown[]) => args.map((a) => (typeof a === "string" ? a : a instanceof Error ? a.message : JSON.stringify(a))).join(" ").trim();
  const ctx = (c: unknown) => (typeof c === "object" && c !== null && "filename" in c ? { source: String((c).filename) } : {});
  debug.setWarningLogger((c: unknown, ...args: unknown[]) => {
    const msg = line(args);
    if (NOT_ACTIONABLE.test(msg)) log.debug(ctx(c), msg);
    else log.warn(ctx(c), msg);
  });
  debug.setErrorLogger((c: unknown, ...args: unknown[]) => log.error(ctx(c), line(args)));
  debug.setDebugLogger((c: unknown, ...args: unknown[]) => log.debug(ctx(c), line(args)));
}
