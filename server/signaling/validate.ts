import { z } from "zod";
import { BadRequestError } from "../../lib/errors.js";
import type { ClientPayload } from "./events.js";

// A schema-level error would also replace the message of every check without its own: each check names its rule.
const text = () => z.string({ error: "must be a string" });

// PROTOCOL §2: 1-128 characters, no whitespace or control characters.
const identifier = text()
  .min(1, "must not be empty")
  .max(128, "must be at most 128 characters")
  .regex(/^[^\s\p{Cc}]+$/u, "must not contain whitespace or control characters");

const displayName = text()
  .max(128, "must be at most 128 characters")
  .regex(/^[^\p{Cc}]*$/u, "must not contain control characters");

/** An optional join field: null counts as absent (PROTOCOL §11). */
const optional = <T>(schema: z.ZodType<T>) => schema.nullish().transform((value) => value ?? undefined);

/** A token: empty counts as absent, so an empty resumeToken starts a new session (PROTOCOL §6, §11). */
const secret = (max: number) =>
  optional(text().max(max, `must be at most ${max} characters`)).transform((value) => value || undefined);

const joinSchema = z.object({
  roomId: identifier,
  userId: identifier,
  displayName: optional(displayName),
  token: secret(4096),
  resumeToken: secret(256),
});

const leaveSchema = z.object({ roomId: identifier });

const flag = () => z.boolean({ error: "must be a boolean" });
const muteSchema = z.object({ muted: flag() });
const deafenSchema = z.object({ deafened: flag() });

const descriptionSchema = (type: "offer" | "answer", maxSdpBytes: number) =>
  z.object({
    type: z.literal(type, { error: `must be "${type}"` }),
    sdp: text().min(1, "must not be empty").max(maxSdpBytes, `is larger than ${maxSdpBytes} bytes`),
  });

const candidateSchema = z.object({
  candidate: text().max(1024, "must be at most 1024 characters"),
  sdpMid: text().max(32, "must be at most 32 characters").nullish(),
  sdpMLineIndex: z
    .number({ error: "must be a number" })
    .int("must be a whole number")
    .min(0, "must be between 0 and 1023")
    .max(1023, "must be between 0 and 1023")
    .nullish(),
  usernameFragment: text().max(256, "must be at most 256 characters").nullish(),
});

/** Parses every client payload into the contract's type for its event; each failure is a BAD_REQUEST naming the field. */
export class PayloadValidator {
  readonly #offer: ReturnType<typeof descriptionSchema>;
  readonly #answer: ReturnType<typeof descriptionSchema>;

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

function parse<T>(schema: z.ZodType<T>, payload: unknown): T {
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    throw new BadRequestError("payload must be an object");
  }
  // With the input in each issue, a missing field (undefined) can be told from a wrong one.
  const result = schema.safeParse(payload, { reportInput: true });
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.join(".") || "payload";
  throw new BadRequestError(
    issue?.code === "invalid_type" && issue.input === undefined
      ? `${field} is required`
      : `${field} ${issue?.message ?? "is invalid"}`,
  );
}

/** Drops keys whose value is undefined so optional fields stay absent. */
function strip<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
