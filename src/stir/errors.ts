// Why a certificate, a chain or the DER under them was refused.

/** Why a certificate or chain was refused. */
export type CertificateErrorReason =
  | "malformed"
  | "expired"
  | "not-yet-valid"
  | "untrusted"
  | "bad-signature"
  | "unsupported-key"
  | "unsupported-algorithm"
  | "not-ca";

/** A certificate could not be parsed, or a chain could not be verified. */
export class CertificateError extends Error {
  override name = "CertificateError";
  constructor(
    public readonly reason: CertificateErrorReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
