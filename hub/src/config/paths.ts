/**
 * Where the hub keeps what it makes for itself, next to its database: one folder per site, the
 * "data folder" (`dirname(storage.path)`, under a service the unit's StateDirectory).
 */
import path from "node:path";
import type { HubConfig } from "./schema.ts";

/** The data folder: the database's folder, absolute. */
export function dataFolder(config: Pick<HubConfig, "storage">): string {
  return path.dirname(path.resolve(config.storage.path));
}

/** The self-made broker CA and server certificate (when `broker.tls` names no files): `ca.crt`, `server.crt`, `server.key`. */
export function tlsFolder(config: Pick<HubConfig, "storage">): string {
  return path.join(dataFolder(config), "tls");
}

/** The CA file MQTT clients must trust, or null without TLS on the broker. */
export function brokerCaFile(config: Pick<HubConfig, "storage" | "broker">): string | null {
  const tls = config.broker.tls;
  if (tls === null) return null;
  if (tls.files !== undefined) return tls.files.ca !== undefined ? path.resolve(tls.files.ca) : null;
  return path.join(tlsFolder(config), "ca.crt");
}

/** Where scheduled backups go. */
export function backupFolder(config: Pick<HubConfig, "storage">): string {
  return config.storage.backup.folder !== undefined ? path.resolve(config.storage.backup.folder) : path.join(dataFolder(config), "backups");
}
