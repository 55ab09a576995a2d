import type { ErrorCode } from "./protocol.js";

/** An error the SFU can explain to a client: it carries a wire error code. */
export class SfuError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The payload was malformed or the request is not valid in the current state. */
export class BadRequestError extends SfuError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("BAD_REQUEST", message, options);
  }
}

/** A media-level step (SDP, ICE) failed or timed out. */
export class NegotiationError extends SfuError {
  constructor(message: string, options?: { cause?: unknown }) {
    super("NEGOTIATION_FAILED", message, options);
  }
}

/** Raised by {@link withTimeout} when a step does not settle in time. */
export class TimeoutError extends Error {
  constructor(what: string, ms: number) {
    super(`${what} timed out after ${ms} ms`);
    this.name = "TimeoutError";
  }
}
