import type { ErrorCode } from "../protocol.js";

/** Codes the SDK raises on its own, next to the SFU's wire codes. */
export type ClientErrorCode =
  "TIMEOUT" | "DISCONNECTED" | "MEDIA_FAILED" | "MICROPHONE_UNAVAILABLE" | "INVALID_STATE" | "CLOSED";

/** Every error the SDK rejects with or emits as `error`. */
export class SfuClientError extends Error {
  /** The SFU's error code (PROTOCOL §1) or one of the SDK's own. */
  readonly code: ErrorCode | ClientErrorCode;

  constructor(code: ErrorCode | ClientErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "SfuClientError";
    this.code = code;
  }
}
