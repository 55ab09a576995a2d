import { SfuError } from "../../lib/errors.js";

type Jose = typeof import("jose");

/** What a verified join token grants beyond admission (PROTOCOL §15); absent claims are undefined. */
export interface JoinGrant {
  /** The `canPublish` claim: false makes a listen-only participant. */
  canPublish: boolean | undefined;
}

const NO_CLAIMS: JoinGrant = Object.freeze({ canPublish: undefined });

/**
 * Verifies join tokens (PROTOCOL §7): an HS256 JWT signed with
 * JOIN_TOKEN_SECRET, unexpired, whose `room` is the roomId (or "*") and whose
 * `sub` is the userId. Without a secret every join is allowed. A token
 * without `exp` is refused: a join token must not be valid forever. An
 * optional `canPublish` claim (PROTOCOL §15) must be a boolean.
 */
export class JoinAuthorizer {
  readonly #key: Uint8Array | undefined;
  /** jose is loaded only when tokens are on: without them a node never needs it (about 2 MB of RSS). */
  readonly #jose: Promise<Jose> | undefined;

  constructor(secret: string | undefined) {
    this.#key = secret === undefined ? undefined : new TextEncoder().encode(secret);
    this.#jose = secret === undefined ? undefined : import("jose");
  }

  get enabled(): boolean {
    return this.#key !== undefined;
  }

  async authorize(request: { roomId: string; userId: string; token?: string }): Promise<JoinGrant> {
    if (!this.#key || !this.#jose) return NO_CLAIMS;
    if (request.token === undefined) throw new SfuError("UNAUTHORIZED", "a join token is required");
    const jose = await this.#jose;
    let claims;
    try {
      ({ payload: claims } = await jose.jwtVerify(request.token, this.#key, {
        algorithms: ["HS256"],
        requiredClaims: ["exp"],
      }));
    } catch (error) {
      throw new SfuError("UNAUTHORIZED", rejection(jose.errors, error));
    }
    if (claims.room !== request.roomId && claims.room !== "*") {
      throw new SfuError("UNAUTHORIZED", "the join token is not valid for this room");
    }
    if (claims.sub !== request.userId)
      throw new SfuError("UNAUTHORIZED", "the join token is for another user");
    const canPublish: unknown = claims.canPublish;
    if (canPublish !== undefined && typeof canPublish !== "boolean")
      throw new SfuError("UNAUTHORIZED", "the join token's canPublish claim must be true or false");
    return { canPublish };
  }
}

/** Why jose refused a token, in words a client developer can act on. */
function rejection(joseErrors: Jose["errors"], error: unknown): string {
  if (error instanceof joseErrors.JWTExpired) return "the join token has expired";
  if (
    error instanceof joseErrors.JWTClaimValidationFailed &&
    error.claim === "exp" &&
    error.reason === "missing"
  ) {
    return "the join token lacks an `exp` claim; join tokens must expire";
  }
  return "the join token is invalid";
}
