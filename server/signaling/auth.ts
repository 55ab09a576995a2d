import { errors as joseErrors, jwtVerify } from "jose";
import { SfuError } from "../../lib/errors.js";

/**
 * Verifies join tokens (PROTOCOL §7): an HS256 JWT signed with
 * JOIN_TOKEN_SECRET, unexpired, whose `room` is the roomId (or "*") and whose
 * `sub` is the userId. Without a secret every join is allowed.
 */
export class JoinAuthorizer {
  readonly #key: Uint8Array | undefined;

  constructor(secret: string | undefined) {
    this.#key = secret === undefined ? undefined : new TextEncoder().encode(secret);
  }

  get enabled(): boolean {
    return this.#key !== undefined;
  }

  async authorize(request: { roomId: string; userId: string; token?: string }): Promise<void> {
    if (!this.#key) return;
    if (request.token === undefined) throw new SfuError("UNAUTHORIZED", "a join token is required");
    let claims;
    try {
      ({ payload: claims } = await jwtVerify(request.token, this.#key, {
        algorithms: ["HS256"],
        requiredClaims: ["exp"],
      }));
    } catch (error) {
      const reason =
        error instanceof joseErrors.JWTExpired ? "the join token has expired" : "the join token is invalid";
      throw new SfuError("UNAUTHORIZED", reason);
    }
    if (claims.room !== request.roomId && claims.room !== "*") {
      throw new SfuError("UNAUTHORIZED", "the join token is not valid for this room");
    }
    if (claims.sub !== request.userId)
      throw new SfuError("UNAUTHORIZED", "the join token is for another user");
  }
}
