import { X509Certificate, webcrypto } from "node:crypto";
import { X509CertificateGenerator } from "@peculiar/x509";
import { expect } from "chai";
import { RTCDtlsTransport, type RTCPeerConnection } from "werift";
import { prepareDtlsCertificate } from "../../lib/werift/certificate.js";
import { loopbackPeer } from "../helpers/loopbackPeer.js";

describe("DTLS certificate (prepareDtlsCertificate)", function () {
  this.timeout(20_000);
  let pc: RTCPeerConnection | undefined;

  afterEach(async () => {
    await pc?.close();
    pc = undefined;
  });

  it("makes the process's one certificate, and every offer carries its SHA-256 fingerprint", async () => {
    await prepareDtlsCertificate();
    await prepareDtlsCertificate();
    const certificate = RTCDtlsTransport.localCertificate;
    expect(certificate, "werift's process-wide certificate").to.not.equal(undefined);
    // The fingerprint as node:crypto computes it from the certificate itself, not from werift's memo.
    const expected = new X509Certificate(certificate!.certPem).fingerprint256;

    pc = loopbackPeer();
    pc.addTransceiver("audio", { direction: "sendrecv" });
    await pc.setLocalDescription(await pc.createOffer());
    const offer = pc.localDescription!.sdp;
    expect(offer).to.match(new RegExp(`^a=fingerprint:sha-256 ${expected}\\r?$`, "im"));
    expect(certificate!.getFingerprints()).to.deep.equal([{ algorithm: "sha-256", value: expected }]);
  });

  it("is an X.509 v3 ECDSA P-256 certificate, self-signed, valid from now for ten years (lib/werift/x509-shim)", async () => {
    await prepareDtlsCertificate();
    const certificate = new X509Certificate(RTCDtlsTransport.localCertificate!.certPem);
    expect(certificate.verify(certificate.publicKey), "signed by its own key").to.equal(true);
    expect(certificate.checkIssued(certificate), "its own issuer").to.equal(true);
    expect(certificate.publicKey.asymmetricKeyDetails).to.deep.equal({ namedCurve: "prime256v1" });
    expect(certificate.subject).to.equal("CN=werift");
    const validFrom = Date.parse(certificate.validFrom);
    const validTo = Date.parse(certificate.validTo);
    expect(validFrom).to.be.within(Date.now() - 24 * 3600_000, Date.now());
    // Both ends are whole seconds (UTCTime), each truncated from its own millisecond clock reading.
    expect(validTo - validFrom).to.be.within(
      10 * 365 * 24 * 3600_000 - 1000,
      10 * 365 * 24 * 3600_000 + 1000,
    );
  });

  it("the shim refuses a certificate kind werift does not ask the SFU for, naming it", async () => {
    const keys = await webcrypto.subtle.generateKey(
      {
        name: "RSASSA-PKCS1-v1_5",
        hash: "SHA-256",
        modulusLength: 1024,
        publicExponent: new Uint8Array([1, 0, 1]),
      },
      true,
      ["sign", "verify"],
    );
    let failure: unknown;
    try {
      await X509CertificateGenerator.createSelfSigned({
        serialNumber: "01",
        name: "CN=x",
        notBefore: new Date(),
        notAfter: new Date(Date.now() + 1000),
        signingAlgorithm: { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" },
        keys,
      });
    } catch (error) {
      failure = error;
    }
    expect(String(failure)).to.match(/only ECDSA with SHA-256 certificates are made, not RSASSA-PKCS1-v1_5/);
  });
});
