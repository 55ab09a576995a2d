/** The members of @peculiar/x509 that werift 0.25.2 calls; see index.cjs. */
export declare const cryptoProvider: { set(crypto: Crypto): void; get(): Crypto };
export declare const PemConverter: { encode(der: ArrayBuffer | Uint8Array, label: string): string };
export interface SelfSignedParams {
  serialNumber: string;
  name: string;
  notBefore: Date;
  notAfter: Date;
  signingAlgorithm: { name: string; hash?: string; namedCurve?: string };
  keys: CryptoKeyPair;
}
export declare const X509CertificateGenerator: {
  createSelfSigned(
    params: SelfSignedParams,
  ): Promise<{ rawData: Buffer; toString(format?: "pem" | "hex"): string }>;
};
