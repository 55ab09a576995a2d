import type { Logger } from "../../lib/logger.js";

/** One event ready to go: serialized and signed once, sent to every URL as is. */
export interface WebhookDelivery {
  id: string;
  event: string;
  body: string;
  /** `sha256=<hex HMAC-SHA256(secret, body)>`. */
  signature: string;
}

/** How one attempt or one event ended, as `sfu_webhook_deliveries_total{result}` counts it. */
export type DeliveryResult = "delivered" | "failed" | "given_up" | "dropped";

export interface WebhookQueueOptions {
  url: string;
  /** Events waiting (the one in flight included); beyond it the oldest waiting one is dropped. */
  maxLength: number;
  /** A failing event is retried until this long after its first attempt, then given up. */
  retryMs: number;
  /** An attempt without an answer by then has failed (PROTOCOL §12: 5 s). */
  timeoutMs: number;
  onResult: (result: DeliveryResult) => void;
  /** The number of events waiting changed. */
  onLength: () => void;
  logger: Logger;
}

/** First retry after 1 s, doubling up to 30 s. */
const FIRST_BACKOFF_MS = 1000;
const MAX_BACKOFF_MS = 30_000;

/**
 * The deliveries to one webhook URL, one at a time and in order: a failing
 * event holds back the later ones until it succeeds or is given up. Runs off
 * timers and promises only, so nothing that pushes to it ever waits on the
 * receiver.
 */
export class WebhookQueue {
  readonly #options: WebhookQueueOptions;
  readonly #logger: Logger;
  readonly #waiting: WebhookDelivery[] = [];
  readonly #abort = new AbortController();
  #busy = false;
  #timer: NodeJS.Timeout | undefined;
  #closed = false;

  constructor(options: WebhookQueueOptions) {
    this.#options = options;
    this.#logger = options.logger.child({ webhook: new URL(options.url).origin });
  }

  get length(): number {
    return this.#waiting.length;
  }

  push(delivery: WebhookDelivery): void {
    if (this.#closed) return;
    this.#waiting.push(delivery);
    if (this.#waiting.length > this.#options.maxLength) {
      // The head may be in flight; the oldest one still waiting behind it goes.
      const [dropped] = this.#waiting.splice(this.#busy ? 1 : 0, 1);
      this.#options.onResult("dropped");
      this.#logger.warn("webhook queue full; dropped the oldest event", {
        id: dropped?.id,
        event: dropped?.event,
      });
    }
    this.#options.onLength();
    this.#next();
  }

  /** Stops delivering: an attempt in flight is aborted, the rest is dropped. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#abort.abort();
    if (this.#waiting.length > 0)
      this.#logger.warn("webhook events not delivered at shutdown", { count: this.#waiting.length });
    this.#waiting.length = 0;
    this.#options.onLength();
  }

  #next(): void {
    if (this.#busy || this.#closed || this.#waiting.length === 0) return;
    this.#busy = true;
    void this.#deliver(this.#waiting[0]!);
  }

  async #deliver(delivery: WebhookDelivery): Promise<void> {
    const firstAttempt = performance.now();
    let backoff = FIRST_BACKOFF_MS;
    for (;;) {
      const failure = await this.#attempt(delivery);
      if (this.#closed) return;
      if (failure === undefined) {
        this.#options.onResult("delivered");
        break;
      }
      this.#options.onResult("failed");
      if (performance.now() - firstAttempt >= this.#options.retryMs) {
        this.#options.onResult("given_up");
        this.#logger.warn("webhook event given up", { id: delivery.id, event: delivery.event, failure });
        break;
      }
      this.#logger.debug("webhook delivery failed; retrying", { id: delivery.id, failure, backoff });
      await new Promise<void>((resolve) => {
        this.#timer = setTimeout(resolve, backoff);
      });
      this.#timer = undefined;
      if (this.#closed) return;
      backoff = Math.min(backoff * 2, MAX_BACKOFF_MS);
    }
    if (this.#waiting[0] === delivery) this.#waiting.shift();
    this.#busy = false;
    this.#options.onLength();
    this.#next();
  }

  /** One POST; resolves with why it failed, or undefined on a 2xx. */
  async #attempt(delivery: WebhookDelivery): Promise<string | undefined> {
    try {
      const response = await fetch(this.#options.url, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          "X-SFU-Event": delivery.event,
          "X-SFU-Signature": delivery.signature,
        },
        body: delivery.body,
        signal: AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#options.timeoutMs)]),
        redirect: "error",
      });
      // The answer's body is not read; cancelling it frees the connection.
      await response.body?.cancel().catch(() => undefined);
      return response.ok ? undefined : `status ${response.status}`;
    } catch (error) {
      return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
    }
  }
}
