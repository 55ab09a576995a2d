import { createHmac } from "node:crypto";

/** Where TURN credentials come from: minted from coturn's shared secret, or one static pair. */
export type TurnCredentialSource =
  | { kind: "secret"; secret: string; ttlSeconds: number }
  | { kind: "static"; username: string; credential: string };

export interface TurnCredentials {
  username: string;
  credential: string;
}

/**
 * Credentials for one TURN user. From a shared secret they follow coturn's
 * TURN REST scheme (`use-auth-secret`): username `<unix expiry>:<name>`,
 * credential base64(HMAC-SHA1(secret, username)), so the TURN server checks
 * them without asking anyone and refuses them after the expiry.
 */
export function turnCredentials(
  source: TurnCredentialSource,
  name: string,
  nowMs: number = Date.now(),
): TurnCredentials {
  if (source.kind === "static") return { username: source.username, credential: source.credential };
  const expiry = Math.floor(nowMs / 1000) + source.ttlSeconds;
  const username = `${expiry}:${name}`;
  const credential = createHmac("sha1", source.secret).update(username).digest("base64");
  return { username, credential };
}
