/**
 * werift's DTLS certificate: one per process (werift 0.25.2 keeps it in the
 * public static `RTCDtlsTransport.localCertificate`), made here at start-up
 * rather than inside the first join, with its fingerprints computed once.
 */
import { RTCDtlsTransport } from "werift";

/**
 * Makes the process's DTLS certificate now and memoises its fingerprints:
 * werift re-parses the PEM for every offer and answer (`getFingerprints`,
 * about 0.4 ms each), which a room of N pays N times per join.
 * Idempotent; werift shares one pending creation between callers.
 */
export async function prepareDtlsCertificate(): Promise<void> {
  const certificate = await RTCDtlsTransport.SetupCertificate();
  const fingerprints = certificate.getFingerprints();
  // A fresh array per call, as werift's own returns, over the same immutable values.
  certificate.getFingerprints = () => [...fingerprints];
}
