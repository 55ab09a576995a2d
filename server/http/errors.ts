import type { ErrorRequestHandler, RequestHandler } from "express";
import type { Logger } from "../../lib/logger.js";

/** JSON 404 for every route nobody served. */
export const notFound: RequestHandler = (req, res) => {
  res.status(404).json({ error: "not found", path: req.path });
};

/** JSON errors; the details of an unexpected one are logged, never sent. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error: unknown, _req, res, _next) => {
    const status = (error as { status?: unknown }).status;
    if (typeof status === "number" && status >= 400 && status < 500) {
      res.status(status).json({ error: (error as Error).message });
      return;
    }
    logger.error("http request failed", { error });
    res.status(500).json({ error: "internal error" });
  };
}
