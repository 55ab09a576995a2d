import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface ReceivedWebhook {
  event: string | undefined;
  signature: string | undefined;
  raw: string;
  body: { id: string; event: string; createdAt: number; room: { roomId: string }; [key: string]: unknown };
}

/**
 * A real HTTP receiver on 127.0.0.1: records every POST and answers with
 * whatever status `answer` returns for it (undefined: never answers).
 */
export class WebhookReceiver {
  readonly requests: ReceivedWebhook[] = [];
  answer: (request: ReceivedWebhook, index: number) => number | undefined = () => 200;
  readonly #server: Server;
  readonly #held: ServerResponse[] = [];

  private constructor() {
    this.#server = createServer((req, res) => void this.#onRequest(req, res));
  }

  static async start(): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver();
    await new Promise<void>((resolve) => receiver.#server.listen(0, "127.0.0.1", resolve));
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}/hook`;
  }

  /** Whether `webhook` carries the HMAC-SHA256 of its raw body under `secret`. */
  static verify(webhook: ReceivedWebhook, secret: string): boolean {
    const expected = Buffer.from(`sha256=${createHmac("sha256", secret).update(webhook.raw).digest("hex")}`);
    const given = Buffer.from(webhook.signature ?? "");
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  async close(): Promise<void> {
    for (const res of this.#held.splice(0)) res.destroy();
    this.#server.closeAllConnections();
    await new Promise((resolve) => this.#server.close(resolve));
  }

  async #onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString("utf8");
    const webhook: ReceivedWebhook = {
      event: req.headers["x-sfu-event"] as string | undefined,
      signature: req.headers["x-sfu-signature"] as string | undefined,
      raw,
      body: JSON.parse(raw) as ReceivedWebhook["body"],
    };
    this.requests.push(webhook);
    const status = this.answer(webhook, this.requests.length - 1);
    if (status === undefined) {
      this.#held.push(res);
      return;
    }
    res.writeHead(status).end();
  }
}
