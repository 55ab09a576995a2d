import { Router } from "express";
import type { Registry } from "prom-client";
import { adminAuth } from "./adminAuth.js";

/** `GET /metrics` in Prometheus text format, behind the admin token when one is set. */
export function createMetricsRouter(options: { registry: Registry; adminToken: string | undefined }): Router {
  const router = Router();
  router.get("/metrics", adminAuth(options.adminToken), async (_req, res) => {
    res.set("Content-Type", options.registry.contentType).send(await options.registry.metrics());
  });
  return router;
}
