/**
 * The simulated Bambu Lab printer's TLS certificate: self-signed, ECDSA P-256, its CN the printer's
 * serial as on the real ones (whose certificate Bambu Lab's own CA signs; no CA the hub knows),
 * valid for 127.0.0.1 and localhost. The hub pins its SHA-256 fingerprint (`auth.fingerprint`).
 */
import "reflect-metadata";
import * as x509 from "@peculiar/x509";
import { X509Certificate, webcrypto } from "node:crypto";
import { subjectAltNames } from "../../hub/src/broker/tls-certs.ts";

const crypto = webcrypto as unknown as Crypto;
const DAY_MS = 86_400_000;

export interface SimCertificate {
  cert: string;
  key: string;
  /** SHA-256 of the DER certificate, "AA:BB:…" (Node's `fingerprint256`). */
  fingerprint: string;
}

export async function makePrinterCertificate(serial: string, now = Date.now()): Promise<SimCertificate> {
  const keys = await crypto.subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]);
  const serialBytes = crypto.getRandomValues(new Uint8Array(16));
  serialBytes[0] = ((serialBytes[0] ?? 0) & 0x7f) | 0x01;
  const cert = await x509.X509CertificateGenerator.createSelfSigned(
    {
      serialNumber: Buffer.from(serialBytes).toString("hex"),
      name: `CN=${serial}, O=TEC Hub simulated Bambu Lab printer`,
      notBefore: new Date(now - DAY_MS),
      notAfter: new Date(now + 365 * DAY_MS),
      signingAlgorithm: { name: "ECDSA", hash: "SHA-256" },
      keys,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyAgreement, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
        new x509.SubjectAlternativeNameExtension([...subjectAltNames(["127.0.0.1", "localhost"]), { type: "dns", value: serial }]),
      ],
    },
    crypto,
  );
  const der = Buffer.from(await crypto.subtle.exportKey("pkcs8", keys.privateKey));
  const key = `-----BEGIN PRIVATE KEY-----\n${der.toString("base64").replace(/(.{64})/g, "$1\n").replace(/\n$/, "")}\n-----END PRIVATE KEY-----\n`;
  const pem = cert.toString("pem") + "\n";
  return { cert: pem, key, fingerprint: new X509Certificate(pem).fingerprint256 };
}
