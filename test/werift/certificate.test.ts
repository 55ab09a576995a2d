import { X509Certificate } from "node:crypto";
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
});
