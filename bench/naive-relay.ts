/**
 * The naive relay, started as its own process by the bench:
 *   PORT=<port> node --import tsx bench/naive-relay.ts
 * Answers GET /health and GET /metrics (prom-client default metrics) and the
 * /sfu signaling namespace on 127.0.0.1.
 */
import { NaiveRelay } from "./naive/NaiveRelay.js";

const port = Number(process.env.PORT ?? 5005);
const relay = new NaiveRelay();
const bound = await relay.listen(port);
console.log(`naive relay listening on 127.0.0.1:${bound}`);

let stopping = false;
async function stop(): Promise<void> {
  if (stopping) return;
  stopping = true;
  // Hard deadline: werift's close() can wait on timers; the bench must never hang on us.
  setTimeout(() => process.exit(0), 3000).unref();
  await relay.close();
  process.exit(0);
}
process.on("SIGTERM", () => void stop());
process.on("SIGINT", () => void stop());
