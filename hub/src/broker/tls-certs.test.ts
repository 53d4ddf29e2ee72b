import { X509Certificate, createPrivateKey } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import tls from "node:tls";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { HubError } from "../core/errors.ts";
import { CA_VALIDITY_DAYS, RENEW_BEFORE_DAYS, SERVER_VALIDITY_DAYS, ensureSelfSignedCerts, readTlsFiles } from "./tls-certs.ts";

const DAY_MS = 86_400_000;
const NOW = Date.parse("2026-12-02T12:00:00Z");
const at = (ms: number) => ({ now: () => ms });

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "tec-tls-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const read = (name: string) => readFileSync(path.join(dir, name), "utf8");

describe("the hub's own CA (ensureSelfSignedCerts)", () => {
  it("makes a CA and a server certificate signed by it, for this machine's names and the given ones", async () => {
    const made = await ensureSelfSignedCerts(dir, ["hub.tec.lan", "192.168.10.5"], at(NOW));
    expect(made.made).toEqual({ ca: true, server: "missing" });
    for (const f of ["ca.crt", "ca.key", "server.crt", "server.key"]) expect(existsSync(path.join(dir, f))).toBe(true);
    // Private keys for the hub's user only.
    expect(statSync(path.join(dir, "ca.key")).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, "server.key")).mode & 0o777).toBe(0o600);
    expect(made.caFile).toBe(path.join(dir, "ca.crt"));
    expect(made.cert).toBe(read("server.crt"));

    const ca = new X509Certificate(read("ca.crt"));
    const server = new X509Certificate(read("server.crt"));
    expect(ca.ca).toBe(true);
    expect(server.ca).toBe(false);
    expect(ca.verify(ca.publicKey)).toBe(true);
    expect(server.verify(ca.publicKey)).toBe(true);
    expect(server.checkIssued(ca)).toBe(true);
    expect(server.checkPrivateKey(createPrivateKey(read("server.key")))).toBe(true);
    for (const host of ["localhost", os.hostname().toLowerCase(), "hub.tec.lan"]) expect(server.checkHost(host, { subject: "never" })).toBe(host);
    for (const ip of ["127.0.0.1", "::1", "192.168.10.5"]) expect(server.checkIP(ip)).toBe(ip);
    expect(server.checkHost("elsewhere.example", { subject: "never" })).toBeUndefined();
    // Addresses also as DNS names, for mbedTLS before 3.5 (ESP32 boards that connect by address).
    expect(server.subjectAltName?.split(", ")).toEqual(expect.arrayContaining(["IP Address:192.168.10.5", "DNS:192.168.10.5", "IP Address:127.0.0.1", "DNS:127.0.0.1"]));
    expect(Date.parse(ca.validTo) - NOW).toBeGreaterThanOrEqual((CA_VALIDITY_DAYS - 1) * DAY_MS);
    expect(Date.parse(server.validTo) - NOW).toBeGreaterThanOrEqual((SERVER_VALIDITY_DAYS - 1) * DAY_MS);
    expect(Date.parse(server.validTo) - NOW).toBeLessThanOrEqual((SERVER_VALIDITY_DAYS + 1) * DAY_MS);
    expect(Date.parse(server.validFrom)).toBeLessThan(NOW);
    expect(server.publicKey.asymmetricKeyType).toBe("ec");
    expect(server.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
  });

  it("reuses both on the next start", async () => {
    await ensureSelfSignedCerts(dir, ["hub.tec.lan"], at(NOW));
    const before = ["ca.crt", "ca.key", "server.crt", "server.key"].map(read);
    const again = await ensureSelfSignedCerts(dir, ["hub.tec.lan"], at(NOW + 100 * DAY_MS));
    expect(again.made).toEqual({ ca: false, server: null });
    expect(["ca.crt", "ca.key", "server.crt", "server.key"].map(read)).toEqual(before);
  });

  it("makes the server certificate again when a wanted name is not on it, and keeps the CA", async () => {
    await ensureSelfSignedCerts(dir, [], at(NOW));
    const caBefore = read("ca.crt");
    const serverBefore = read("server.crt");
    const again = await ensureSelfSignedCerts(dir, ["hub.tec.lan"], at(NOW));
    expect(again.made).toEqual({ ca: false, server: "not valid for hub.tec.lan" });
    expect(read("ca.crt")).toBe(caBefore);
    expect(read("server.crt")).not.toBe(serverBefore);
    const server = new X509Certificate(read("server.crt"));
    expect(server.checkHost("hub.tec.lan", { subject: "never" })).toBe("hub.tec.lan");
    expect(server.verify(new X509Certificate(caBefore).publicKey)).toBe(true);
  });

  it(`makes it again ${RENEW_BEFORE_DAYS} days before its end, and when it or its key is missing`, async () => {
    await ensureSelfSignedCerts(dir, [], at(NOW));
    const caBefore = read("ca.crt");
    const first = read("server.crt");
    // Still more than 30 days left: kept.
    const later = NOW + (SERVER_VALIDITY_DAYS - RENEW_BEFORE_DAYS - 2) * DAY_MS;
    expect((await ensureSelfSignedCerts(dir, [], at(later))).made.server).toBeNull();
    // Within 30 days of its end: a new one, valid from about now.
    const late = NOW + (SERVER_VALIDITY_DAYS - RENEW_BEFORE_DAYS + 1) * DAY_MS;
    const renewed = await ensureSelfSignedCerts(dir, [], at(late));
    expect(renewed.made.server).toMatch(/^ends /);
    expect(Date.parse(new X509Certificate(read("server.crt")).validTo) - late).toBeGreaterThan(700 * DAY_MS);
    expect(read("server.crt")).not.toBe(first);
    expect(read("ca.crt")).toBe(caBefore);

    unlinkSync(path.join(dir, "server.key"));
    expect((await ensureSelfSignedCerts(dir, [], at(late))).made).toEqual({ ca: false, server: "missing" });
    // A key that is not the certificate's.
    writeFileSync(path.join(dir, "server.key"), read("ca.key"));
    expect((await ensureSelfSignedCerts(dir, [], at(late))).made.server).toBe("its key does not match");
    expect(read("ca.crt")).toBe(caBefore);
  });

  it("never replaces an existing CA: without its key a renewal is a clear error", async () => {
    await ensureSelfSignedCerts(dir, [], at(NOW));
    const caBefore = read("ca.crt");
    unlinkSync(path.join(dir, "ca.key"));
    // Nothing to renew: the CA's key is not needed.
    expect((await ensureSelfSignedCerts(dir, [], at(NOW))).made).toEqual({ ca: false, server: null });
    const error = await ensureSelfSignedCerts(dir, ["new-name.lan"], at(NOW)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).code).toBe("STORAGE_FAILED");
    expect((error as HubError).message).toContain(path.join(dir, "ca.key"));
    expect(read("ca.crt")).toBe(caBefore);
  });

  it("serves a real TLS handshake to a client that trusts the CA, and not to one that trusts another", async () => {
    const made = await ensureSelfSignedCerts(dir, [], at(Date.now()));
    const other = await ensureSelfSignedCerts(path.join(dir, "other"), [], at(Date.now()));
    const server = tls.createServer({ cert: made.cert, key: made.key }, (s) => s.end("hello"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const port = (server.address() as net.AddressInfo).port;
    const talk = (ca: string, servername: string) =>
      new Promise<string>((resolve, reject) => {
        const c = tls.connect({ host: "127.0.0.1", port, ca, servername }, () => c.once("data", (d: Buffer) => resolve(d.toString())));
        c.once("error", reject);
      });
    try {
      expect(await talk(made.ca, "localhost")).toBe("hello");
      await expect(talk(other.ca, "localhost")).rejects.toThrow(/self[- ]signed|unable to verify|certificate/i);
      await expect(talk(made.ca, "not-this-hub.example")).rejects.toThrow(/altnames|Hostname/i);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});

describe("certificate files from the config (readTlsFiles)", () => {
  it("reads them and names the missing one", async () => {
    const made = await ensureSelfSignedCerts(dir, [], at(Date.now()));
    const ok = readTlsFiles({ cert: made.certFile, key: made.keyFile, ca: made.caFile }, "broker.tls.files");
    expect(ok.cert).toBe(made.cert);
    expect(ok.caFile).toBe(made.caFile);
    const missing = path.join(dir, "nope.crt");
    const error = (() => {
      try {
        readTlsFiles({ cert: missing, key: made.keyFile }, "broker.tls.files");
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(HubError);
    expect((error as HubError).code).toBe("CONFIG_INVALID");
    expect((error as HubError).message).toContain("broker.tls.files.cert");
    expect((error as HubError).message).toContain(missing);
  });

  it("refuses a key that is not the certificate's", async () => {
    const made = await ensureSelfSignedCerts(dir, [], at(Date.now()));
    expect(() => readTlsFiles({ cert: made.certFile, key: path.join(dir, "ca.key") }, "http.tls")).toThrow(/http\.tls: .*not a usable certificate and key/);
  });
});
