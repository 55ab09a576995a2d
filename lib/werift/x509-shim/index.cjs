"use strict";
// werift 0.25.2 calls @peculiar/x509 only to make its self-signed ECDSA P-256 DTLS
// certificate: cryptoProvider.set, X509CertificateGenerator.createSelfSigned and
// PemConverter.encode. This builds that certificate's DER directly, so the process
// does not load the whole X.509/ASN.1 library (about 3 MB of heap per thread).
const nodeCrypto = require("node:crypto");

let provider = nodeCrypto.webcrypto;

/** DER length octets. */
function length(n) {
  if (n < 0x80) return Buffer.from([n]);
  const bytes = [];
  for (let rest = n; rest > 0; rest >>= 8) bytes.unshift(rest & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag, ...parts) {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const sequence = (...parts) => tlv(0x30, ...parts);

/** A non-negative INTEGER from big-endian bytes: leading zeros dropped, a 0 added before a high bit. */
function integer(bytes) {
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const trimmed = bytes.subarray(start);
  return tlv(0x02, trimmed[0] & 0x80 ? Buffer.concat([Buffer.from([0]), trimmed]) : trimmed);
}

function oid(dotted) {
  const [first, second, ...rest] = dotted.split(".").map(Number);
  const out = [40 * first + second];
  for (const arc of rest) {
    const groups = [arc & 0x7f];
    for (let value = arc >>> 7; value > 0; value >>>= 7) groups.unshift(0x80 | (value & 0x7f));
    out.push(...groups);
  }
  return tlv(0x06, Buffer.from(out));
}

/** UTCTime through 2049, GeneralizedTime from 2050 (RFC 5280 §4.1.2.5). */
function time(date) {
  const iso = date.toISOString().replace(/[-:T]/g, "").slice(0, 14) + "Z";
  return date.getUTCFullYear() < 2050 ? tlv(0x17, Buffer.from(iso.slice(2))) : tlv(0x18, Buffer.from(iso));
}

const ECDSA_WITH_SHA256 = sequence(oid("1.2.840.10045.4.3.2"));
/** CN=werift, the one name a DTLS peer never checks (it checks the fingerprint). */
const NAME = sequence(tlv(0x31, sequence(oid("2.5.4.3"), tlv(0x0c, Buffer.from("werift")))));

/** WebCrypto's ECDSA signature is r‖s; X.509 wants SEQUENCE { INTEGER r, INTEGER s }. */
function derSignature(raw) {
  const half = raw.length / 2;
  return sequence(integer(raw.subarray(0, half)), integer(raw.subarray(half)));
}

function pem(der, label) {
  const lines =
    Buffer.from(der)
      .toString("base64")
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

exports.cryptoProvider = {
  set(crypto) {
    provider = crypto;
  },
  get() {
    return provider;
  },
};

exports.PemConverter = {
  /** @param {ArrayBuffer | Uint8Array} der @param {string} label */
  encode(der, label) {
    return pem(new Uint8Array(der), label.toUpperCase());
  },
};

exports.X509CertificateGenerator = {
  /** A self-signed X.509 v3 certificate; ECDSA with SHA-256 only, the one kind werift asks for. */
  async createSelfSigned({ serialNumber, notBefore, notAfter, signingAlgorithm, keys }) {
    if (signingAlgorithm.name !== "ECDSA" || signingAlgorithm.hash !== "SHA-256") {
      throw new Error(
        `x509 shim: only ECDSA with SHA-256 certificates are made, not ${signingAlgorithm.name}`,
      );
    }
    const spki = Buffer.from(await provider.subtle.exportKey("spki", keys.publicKey));
    const tbs = sequence(
      tlv(0xa0, integer(Buffer.from([2]))),
      integer(Buffer.from(serialNumber, "hex")),
      ECDSA_WITH_SHA256,
      NAME,
      sequence(time(notBefore), time(notAfter)),
      NAME,
      spki,
    );
    const raw = Buffer.from(
      await provider.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, keys.privateKey, tbs),
    );
    const der = sequence(tbs, ECDSA_WITH_SHA256, tlv(0x03, Buffer.from([0]), derSignature(raw)));
    return {
      rawData: der,
      toString: (format) => (format === "pem" ? pem(der, "CERTIFICATE") : der.toString("hex")),
    };
  },
};
