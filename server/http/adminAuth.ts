import { timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";

/**
 * Requires `Authorization: Bearer <ADMIN_TOKEN>` when an admin token is set
 * (PROTOCOL §7); lets everything through when it is not.
 */
export function adminAuth(adminToken: string | undefined): RequestHandler {
  if (adminToken === undefined) return (_req, _res, next) => next();
  const expected = Buffer.from(`Bearer ${adminToken}`);
  return (req, res, next) => {
    const given = Buffer.from(req.get("authorization") ?? "");
    if (given.length === expected.length && timingSafeEqual(given, expected)) {
      next();
      return;
    }
    res.status(401).set("WWW-Authenticate", "Bearer").json({ error: "unauthorized" });
  };
}
