/**
 * Certificates for the broker's TLS listener (and, if wanted, the dashboard's HTTPS).
 *
 * `ensureSelfSignedCerts` keeps a small CA of the hub's own in a folder (`<data folder>/tls/`): on
 * first use it makes the CA (`ca.crt`, `ca.key`) and a server certificate signed by it
 * (`server.crt`, `server.key`), valid for this machine's names. Devices and tools trust `ca.crt`,
 * so the CA is never replaced once it exists; the server certificate is made again when it is
 * missing, close to its end, no longer signed by the CA, or not valid for a name that is wanted.
 * ECDSA P-256 throughout: fast to make, and understood by OpenSSL (mosquitto), Node and mbedTLS
 * (the ESP32's WiFiClientSecure).
 *
 * `readTlsFiles` reads certificate files named in the config, with errors that name the file.
 */
// @peculiar/x509 resolves its parts through tsyringe, which needs the Reflect metadata API first.
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { X509Certificate, createPrivateKey, webcrypto } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { createSecureContext } from "node:tls";
import { HubError } from "../core/errors.ts";

const DAY_MS = 86_400_000;
/** The CA outlives many server certificates: devices carry it in their firmware. */
export const CA_VALIDITY_DAYS = 3650;
/** 825 days: the longest TLS server certificate Apple's clients accept, about two years. */
export const SERVER_VALIDITY_DAYS = 825;
/** A server certificate that ends within this time is made again at the next start. */
export const RENEW_BEFORE_DAYS = 30;
/** Validity starts this long before now: a device whose clock is a little behind still accepts it. */
const BACKDATE_MS = DAY_MS;

const EC_KEY = { name: "ECDSA", namedCurve: "P-256" } as const;
const SIGNING = { name: "ECDSA", hash: "SHA-256" } as const;
const crypto = webcrypto as unknown as Crypto;

export interface TlsPem {
  cert: string;
  key: string;
  /** The CA clients must trust, when known. */
  ca: string | null;
}

export interface SelfSignedCerts extends TlsPem {
  ca: string;
  folder: string;
  caFile: string;
  certFile: string;
  keyFile: string;
  /** What this call made: a new CA (first use) and/or a new server certificate, with why. */
  made: { ca: boolean; server: string | null };
  /** The names the server certificate is valid for. */
  names: string[];
}

/** The names a self-made server certificate covers: this machine's, and those given. */
export function wantedNames(hostnames: readonly string[]): string[] {
  const names = ["localhost", "127.0.0.1", "::1", os.hostname(), ...hostnames].map((n) => n.trim().toLowerCase()).filter((n) => n.length > 0);
  return [...new Set(names)];
}

function covers(cert: X509Certificate, name: string): boolean {
  // subject "never": only the subjectAltName counts, as for every current TLS client.
  return net.isIP(name) !== 0 ? cert.checkIP(name) !== undefined : cert.checkHost(name, { subject: "never", wildcards: false }) !== undefined;
}

/**
 * The certificate's subjectAltName entries. An IPv4 address is listed as an address and once more
 * as a DNS name: mbedTLS before 3.5 (the ESP32's Arduino cores up to 3.0) compares the host a
 * board connects to with DNS names only, so a board configured with the hub's address would
 * otherwise refuse it. Clients that know IP entries (OpenSSL, Node) never match a DNS entry against
 * an address, so the extra entry changes nothing for them.
 */
export function subjectAltNames(names: readonly string[]): Array<{ type: "ip" | "dns"; value: string }> {
  return names.flatMap((n) => {
    const ip = net.isIP(n);
    if (ip === 0) return [{ type: "dns" as const, value: n }];
    return ip === 4 ? [{ type: "ip" as const, value: n }, { type: "dns" as const, value: n }] : [{ type: "ip" as const, value: n }];
  });
}

function randomSerial(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(16));
  // Positive and non-zero, as RFC 5280 asks.
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x01;
  return Buffer.from(bytes).toString("hex");
}

async function keyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await crypto.subtle.exportKey("pkcs8", key));
  return `-----BEGIN PRIVATE KEY-----\n${der.toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END PRIVATE KEY-----\n`;
}

async function importSigningKey(pem: string, file: string): Promise<CryptoKey> {
  try {
    const der = createPrivateKey(pem).export({ format: "der", type: "pkcs8" });
    return await crypto.subtle.importKey("pkcs8", der, EC_KEY, false, ["sign"]);
  } catch (error) {
    throw new HubError("STORAGE_FAILED", `${file}: not a usable ECDSA P-256 private key (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** Writes through a temporary file and a rename, so a crash never leaves half a key behind. */
function writeAtomic(file: string, content: string, mode: number): void {
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, content, { mode });
  chmodSync(tmp, mode);
  renameSync(tmp, file);
}

function readIfExists(file: string): string | null {
  return existsSync(file) ? readFileSync(file, "utf8") : null;
}

function parseCert(pem: string, file: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (error) {
    throw new HubError("STORAGE_FAILED", `${file}: not a PEM certificate (${error instanceof Error ? error.message : String(error)})`);
  }
}

/** Why the server certificate must be made again, or null if it still serves. */
function serverProblem(server: string | null, serverKey: string | null, ca: X509Certificate, names: readonly string[], now: number): string | null {
  if (server === null || serverKey === null) return "missing";
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(server);
  } catch {
    return "unreadable";
  }
  if (Date.parse(cert.validTo) - now < RENEW_BEFORE_DAYS * DAY_MS) return `ends ${cert.validTo}`;
  if (Date.parse(cert.validFrom) > now) return `not valid before ${cert.validFrom}`;
  if (!cert.verify(ca.publicKey)) return "not signed by the current CA";
  try {
    if (!cert.checkPrivateKey(createPrivateKey(serverKey))) return "its key does not match";
  } catch {
    return "its key is unreadable";
  }
  const missing = names.filter((n) => !covers(cert, n));
  return missing.length > 0 ? `not valid for ${missing.join(", ")}` : null;
}

/**
 * The hub's own CA and a server certificate signed by it, in `folder`; made on first use, the
 * server certificate made again when it no longer serves (see the file's comment). `clock` is for
 * tests (a certificate close to its end).
 */
export async function ensureSelfSignedCerts(folder: string, hostnames: readonly string[], clock: { now(): number } = { now: () => Date.now() }): Promise<SelfSignedCerts> {
  const dir = path.resolve(folder);
  const caFile = path.join(dir, "ca.crt");
  const caKeyFile = path.join(dir, "ca.key");
  const certFile = path.join(dir, "server.crt");
  const keyFile = path.join(dir, "server.key");
  const names = wantedNames(hostnames);
  const now = clock.now();
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  } catch (error) {
    throw new HubError("STORAGE_FAILED", `${dir}: cannot make the folder for the broker's certificates (${error instanceof Error ? error.message : String(error)})`);
  }

  try {
    let caPem = readIfExists(caFile);
    let caSigningKey: CryptoKey | null = null;
    let madeCa = false;
    if (caPem === null) {
      // First use (or the CA was deleted on purpose): a new CA, which clients must then trust.
      const keys = await crypto.subtle.generateKey(EC_KEY, true, ["sign", "verify"]);
      const host = os.hostname();
      const ca = await x509.X509CertificateGenerator.createSelfSigned(
        {
          serialNumber: randomSerial(),
          name: `CN=TEC Hub CA ${host} ${new Date(now).toISOString().slice(0, 10)}, O=TEC Hub`,
          notBefore: new Date(now - BACKDATE_MS),
          notAfter: new Date(now + CA_VALIDITY_DAYS * DAY_MS),
          signingAlgorithm: SIGNING,
          keys,
          extensions: [
            new x509.BasicConstraintsExtension(true, 0, true),
            new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
            await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
          ],
        },
        crypto,
      );
      writeAtomic(caKeyFile, await keyPem(keys.privateKey), 0o600);
      caPem = ca.toString("pem") + "\n";
      writeAtomic(caFile, caPem, 0o644);
      caSigningKey = keys.privateKey;
      madeCa = true;
    }
    const ca = parseCert(caPem, caFile);

    let serverPem = readIfExists(certFile);
    let serverKeyPem = readIfExists(keyFile);
    const problem = serverProblem(serverPem, serverKeyPem, ca, names, now);
    if (problem !== null) {
      if (caSigningKey === null) {
        const caKeyPem = readIfExists(caKeyFile);
        if (caKeyPem === null) {
          throw new HubError(
            "STORAGE_FAILED",
            `${certFile} must be made again (${problem}) but ${caKeyFile} is missing; restore it, or remove ${caFile} to make a new CA (every client must then trust the new one)`,
          );
        }
        caSigningKey = await importSigningKey(caKeyPem, caKeyFile);
      }
      const keys = await crypto.subtle.generateKey(EC_KEY, true, ["sign", "verify"]);
      const issuer = new x509.X509Certificate(caPem);
      const server = await x509.X509CertificateGenerator.create(
        {
          serialNumber: randomSerial(),
          subject: `CN=${names.find((n) => n !== "localhost" && net.isIP(n) === 0) ?? "localhost"}, O=TEC Hub`,
          issuer: issuer.subject,
          notBefore: new Date(now - BACKDATE_MS),
          notAfter: new Date(Math.min(now + SERVER_VALIDITY_DAYS * DAY_MS, Date.parse(ca.validTo))),
          signingAlgorithm: SIGNING,
          publicKey: keys.publicKey,
          signingKey: caSigningKey,
          extensions: [
            new x509.BasicConstraintsExtension(false, undefined, true),
            new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
            new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
            new x509.SubjectAlternativeNameExtension(subjectAltNames(names)),
            await x509.SubjectKeyIdentifierExtension.create(keys.publicKey, false, crypto),
            await x509.AuthorityKeyIdentifierExtension.create(issuer.publicKey, false, crypto),
          ],
        },
        crypto,
      );
      serverKeyPem = await keyPem(keys.privateKey);
      serverPem = server.toString("pem") + "\n";
      // The key first: a certificate whose key is missing is made again next time, never used.
      writeAtomic(keyFile, serverKeyPem, 0o600);
      writeAtomic(certFile, serverPem, 0o644);
    }
    return { folder: dir, caFile, certFile, keyFile, ca: caPem, cert: serverPem ?? "", key: serverKeyPem ?? "", made: { ca: madeCa, server: problem }, names };
  } catch (error) {
    if (error instanceof HubError) throw error;
    throw new HubError("STORAGE_FAILED", `${dir}: cannot make or read the broker's certificates (${error instanceof Error ? error.message : String(error)})`);
  }
}

/**
 * Certificate files named in the config, read and checked now (a key that does not belong to the
 * certificate is found here, not at the first client). `where` is the config path, for errors.
 */
export function readTlsFiles(files: { cert: string; key: string; ca?: string | undefined }, where: string): TlsPem & { caFile: string | null } {
  const read = (key: "cert" | "key" | "ca", file: string): string => {
    const abs = path.resolve(file);
    try {
      return readFileSync(abs, "utf8");
    } catch (error) {
      const why = (error as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : error instanceof Error ? error.message : String(error);
      throw new HubError("CONFIG_INVALID", `${where}.${key}: cannot read ${abs} (${why})`, [{ path: `${where}.${key}`, message: `cannot read ${abs}: ${why}` }]);
    }
  };
  const cert = read("cert", files.cert);
  const key = read("key", files.key);
  const ca = files.ca !== undefined ? read("ca", files.ca) : null;
  try {
    createSecureContext({ cert, key, ...(ca !== null ? { ca } : {}) });
  } catch (error) {
    const why = error instanceof Error ? error.message : String(error);
    throw new HubError("CONFIG_INVALID", `${where}: ${path.resolve(files.cert)} and ${path.resolve(files.key)} are not a usable certificate and key (${why})`, [{ path: where, message: why }]);
  }
  return { cert, key, ca, caFile: files.ca !== undefined ? path.resolve(files.ca) : null };
}
