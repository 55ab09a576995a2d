import { BadRequestError } from "../../lib/errors.js";
import type { ClientPayload } from "./events.js";

// Hand-written rather than a schema library: these few flat payloads do not need one, and zod
// cost 2.8 MB of heap (and 225 modules) in a process whose idle footprint is its price.

/** A field's value is not acceptable; the message follows the field's name. */
class Invalid extends Error {}

/** Reads one field: returns the value to keep, or throws Invalid. */
type Rule<T> = (value: unknown) => T;

const IDENTIFIER = /^[^\s\p{Cc}]+$/u;
const NO_CONTROL = /^[^\p{Cc}]*$/u;

/** A string, checked by `checks` in order: the first that fails names the rule. */
function text(...checks: Array<(value: string) => string | undefined>): Rule<string> {
  return (value) => {
    if (value === undefined) throw new Invalid("is required");
    if (typeof value !== "string") throw new Invalid("must be a string");
    for (const check of checks) {
      const failure = check(value);
      if (failure !== undefined) throw new Invalid(failure);
    }
    return value;
  };
}

const maxLength =
  (max: number, message = `must be at most ${max} characters`) =>
  (value: string) =>
    value.length > max ? message : undefined;
const notEmpty = (value: string) => (value.length === 0 ? "must not be empty" : undefined);
const matches = (pattern: RegExp, message: string) => (value: string) =>
  pattern.test(value) ? undefined : message;

// PROTOCOL §2: 1-128 characters, no whitespace or control characters.
const identifier = text(
  notEmpty,
  maxLength(128),
  matches(IDENTIFIER, "must not contain whitespace or control characters"),
);

const displayName = text(maxLength(128), matches(NO_CONTROL, "must not contain control characters"));

/** A field that may be null or absent, kept as it came. */
function nullish<T>(rule: Rule<T>): Rule<T | null | undefined> {
  return (value) => (value === null || value === undefined ? value : rule(value));
}

/** An optional join field: null counts as absent (PROTOCOL §11). */
function optional<T>(rule: Rule<T>): Rule<T | undefined> {
  return (value) => (value === null || value === undefined ? undefined : rule(value));
}

/** A token: empty counts as absent, so an empty resumeToken starts a new session (PROTOCOL §6, §11). */
const secret = (max: number): Rule<string | undefined> => {
  const rule = optional(text(maxLength(max)));
  return (value) => rule(value) || undefined;
};

const flag: Rule<boolean> = (value) => {
  if (value === undefined) throw new Invalid("is required");
  if (typeof value !== "boolean") throw new Invalid("must be a boolean");
  return value;
};

const literal =
  <L extends string>(expected: L): Rule<L> =>
  (value) => {
    if (value !== expected) throw new Invalid(`must be "${expected}"`);
    return expected;
  };

const lineIndex: Rule<number> = (value) => {
  if (value === undefined) throw new Invalid("is required");
  if (typeof value !== "number" || !Number.isFinite(value)) throw new Invalid("must be a number");
  if (!Number.isSafeInteger(value)) throw new Invalid("must be a whole number");
  if (value < 0 || value > 1023) throw new Invalid("must be between 0 and 1023");
  return value;
};

type Shape = Record<string, Rule<unknown>>;
type Parsed<S extends Shape> = { [K in keyof S]: ReturnType<S[K]> };

/** An object of the shape's fields only, read in the shape's order: the first failure is reported. */
function object<S extends Shape>(shape: S): Rule<Parsed<S>> {
  const entries = Object.entries(shape);
  return (value) => {
    const input = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [key, rule] of entries) {
      try {
        out[key] = rule(input[key]);
      } catch (error) {
        if (error instanceof Invalid) throw new BadRequestError(`${key} ${error.message}`);
        throw error;
      }
    }
    return out as Parsed<S>;
  };
}

const joinSchema = object({
  roomId: identifier,
  userId: identifier,
  displayName: optional(displayName),
  token: secret(4096),
  resumeToken: secret(256),
});

const leaveSchema = object({ roomId: identifier });
const muteSchema = object({ muted: flag });
const deafenSchema = object({ deafened: flag });

const descriptionSchema = <T extends "offer" | "answer">(type: T, maxSdpBytes: number) =>
  object({
    type: literal(type),
    sdp: text(notEmpty, maxLength(maxSdpBytes, `is larger than ${maxSdpBytes} bytes`)),
  });

const candidateSchema = object({
  candidate: text(maxLength(1024)),
  sdpMid: nullish(text(maxLength(32))),
  sdpMLineIndex: nullish(lineIndex),
  usernameFragment: nullish(text(maxLength(256))),
});

/** Parses every client payload into the contract's type for its event; each failure is a BAD_REQUEST naming the field. */
export class PayloadValidator {
  readonly #offer: Rule<ClientPayload<"offer">>;
  readonly #answer: Rule<ClientPayload<"answer">>;

  constructor(options: { maxSdpBytes: number }) {
    this.#offer = descriptionSchema("offer", options.maxSdpBytes);
    this.#answer = descriptionSchema("answer", options.maxSdpBytes);
  }

  join(payload: unknown): ClientPayload<"join"> {
    return strip(parse(joinSchema, payload));
  }

  leave(payload: unknown): ClientPayload<"leave"> {
    return parse(leaveSchema, payload);
  }

  offer(payload: unknown): ClientPayload<"offer"> {
    return parse(this.#offer, payload);
  }

  answer(payload: unknown): ClientPayload<"answer"> {
    return parse(this.#answer, payload);
  }

  mute(payload: unknown): ClientPayload<"mute"> {
    return parse(muteSchema, payload);
  }

  /** The body of the admin deafen route; not a client event. */
  deafen(payload: unknown): { deafened: boolean } {
    return parse(deafenSchema, payload);
  }

  iceCandidate(payload: unknown): ClientPayload<"ice-candidate"> {
    return strip(parse(candidateSchema, payload));
  }
}

function parse<T>(schema: Rule<T>, payload: unknown): T {
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    throw new BadRequestError("payload must be an object");
  }
  return schema(payload);
}

/** Drops keys whose value is undefined so optional fields stay absent. */
function strip<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
