/**
 * A load-client process: hosts many LoadPeers and takes orders from the bench
 * orchestrator over the fork() IPC channel. Started only by run.ts.
 *
 * Env: BENCH_TARGET_URL (server base URL), BENCH_READY_TIMEOUT_MS; BENCH_WERIFT_RECEIVE=1 and
 * BENCH_WERIFT_SEND=1 put receiving and sending back on werift's own media path instead of
 * lib/media's (see LoadPeer), to compare what the clients cost.
 */
import { ClientMeter } from "./ClientMeter.js";
import type { ChildMessage, ParentMessage } from "./ipc.js";
import { LoadPeer } from "./LoadPeer.js";
import { SharedPayload } from "./SharedPayload.js";

const url = process.env.BENCH_TARGET_URL;
if (!url || !process.send) {
  console.error("load-client.ts is started by bench/run.ts (needs BENCH_TARGET_URL and an IPC channel)");
  process.exit(2);
}
const readyTimeoutMs = Number(process.env.BENCH_READY_TIMEOUT_MS ?? 20_000);
const weriftReceive = process.env.BENCH_WERIFT_RECEIVE === "1";
const weriftSend = process.env.BENCH_WERIFT_SEND === "1";

const meter = new ClientMeter();
const payload = new SharedPayload();
const peers: LoadPeer[] = [];
let closing = false;

function send(message: ChildMessage): void {
  process.send?.(message);
}

async function closeAll(): Promise<void> {
  if (closing) return;
  closing = true;
  await Promise.allSettled(peers.map((peer) => peer.close()));
}

process.on("message", (raw: ParentMessage) => {
  switch (raw.type) {
    case "join": {
      const peer = new LoadPeer({
        spec: raw.peer,
        url: raw.peer.url ?? url,
        meter,
        payload,
        readyTimeoutMs,
        weriftReceive,
        weriftSend,
      });
      peers.push(peer);
      void peer.join().then((result) => send({ type: "peer-ready", index: raw.peer.index, ...result }));
      break;
    }
    case "measure":
      meter.setWindow(raw.startMs, raw.endMs);
      break;
    case "report":
      send({ type: "report", report: meter.report() });
      break;
    case "silence":
      for (const peer of peers) peer.stopSending();
      break;
    case "close":
      void closeAll().then(() => {
        send({ type: "closed" });
        // werift keeps timers alive after close(); exit once the message has had time to go out.
        setTimeout(() => process.exit(0), 100);
      });
      break;
  }
});

// The orchestrator went away (crash or kill): do not linger as an orphan.
process.on("disconnect", () => {
  void closeAll().finally(() => process.exit(0));
});

send({ type: "ready" });
