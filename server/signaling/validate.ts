import { z } from "zod";
import { BadRequestError } from "../../lib/errors.js";
import type { IceCandidate, JoinMessage, LeaveMessage, SessionDescription } from "../../lib/protocol.js";

// PROTOCOL §2: 1-128 characters, no whitespace or control characters.
const identifier = z
  .string({ error: "must be a string" })
  .min(1, "must not be empty")
  .max(128, "must be at most 128 characters")
  .regex(/^[^\s\p{Cc}]+$/u, "must not contain whitespace or control characters");

const displayName = z
  .string({ error: "must be a string" })
  .max(128, "must be at most 128 characters")
  .regex(/^[^\p{Cc}]*$/u, "must not contain control characters");

const secret = (max: number) => z.string({ error: "must be a string" }).min(1).max(max);

const joinSchema = z.object({
  roomId: identifier,
  userId: identifier,
  displayName: displayName.optional(),
  token: secret(4096).optional(),
  resumeToken: secret(256).optional(),
});

const leaveSchema = z.object({ roomId: identifier });

const descriptionSchema = (type: "offer" | "answer", maxSdpBytes: number) =>
  z.object({
    type: z.literal(type, { error: `must be "${type}"` }),
    sdp: z.string({ error: "must be a string" }).min(1, "must not be empty").max(maxSdpBytes, "is too large"),
  });

const candidateSchema = z.object({
  candidate: z.string({ error: "must be a string" }).max(1024, "is too long"),
  sdpMid: z.string().max(32).nullable().optional(),
  sdpMLineIndex: z.number().int().min(0).max(1023).nullable().optional(),
  usernameFragment: z.string().max(256).nullable().optional(),
});

/** Parses every client payload; each failure is a BAD_REQUEST naming the field. */
export class PayloadValidator {
  readonly #offer: ReturnType<typeof descriptionSchema>;
  readonly #answer: ReturnType<typeof descriptionSchema>;

  constructor(options: { maxSdpBytes: number }) {
    this.#offer = descriptionSchema("offer", options.maxSdpBytes);
    this.#answer = descriptionSchema("answer", options.maxSdpBytes);
  }

  join(payload: unknown): JoinMessage {
    return strip(parse(joinSchema, payload));
  }

  leave(payload: unknown): LeaveMessage {
    return parse(leaveSchema, payload);
  }

  offer(payload: unknown): SessionDescription {
    return parse(this.#offer, payload);
  }

  answer(payload: unknown): SessionDescription {
    return parse(this.#answer, payload);
  }

  iceCandidate(payload: unknown): IceCandidate {
    return strip(parse(candidateSchema, payload));
  }
}

function parse<T>(schema: z.ZodType<T>, payload: unknown): T {
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    throw new BadRequestError("payload must be an object");
  }
  const result = schema.safeParse(payload);
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
