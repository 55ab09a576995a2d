import type { RequestHandler } from "express";
import { sameSecret } from "../../lib/util/sameSecret.js";

/** `Bearer <token>`; the scheme name is case-insensitive (RFC 7235 §2.1), the token is not. */
const BEARER = /^bearer (.+)$/i;

/**
 * Requires `Authorization: Bearer <ADMIN_TOKEN>` when an admin token is set
 * (PROTOCOL §7); lets everything through when it is not.
 */
export function adminAuth(adminToken: string | undefined): RequestHandler {
  if (adminToken === undefined) return (_req, _res, next) => next();
  return (req, res, next) => {
    const token = BEARER.exec(req.get("authorization") ?? "")?.[1];
    if (token !== undefined && sameSecret(token, adminToken)) {
      next();
      return;
    }
    res.status(401).set("WWW-Authenticate", "Bearer").json({ error: "unauthorized" });
  };
}
