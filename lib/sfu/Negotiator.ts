import type { RTCPeerConnection } from "werift";
import { NegotiationError, SfuError, TimeoutError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { SessionDescription } from "../protocol.js";
import { withTimeout } from "../util/timeout.js";
import type { OfferTurns } from "./OfferTurns.js";
import { bundledAnswer, jsepOffer } from "./sdp.js";
import { pinControlledRole, restartIceChecks } from "../werift/ice.js";

export interface NegotiatorOptions {
  pc: RTCPeerConnection;
  /** Bound on every single werift step. */
  stepTimeoutMs: number;
  /** How long an SFU offer may wait for the client's answer. */
  answerTimeoutMs: number;
  /** Delivers an SFU offer to the client; false while no client is attached. */
  sendOffer: (offer: SessionDescription) => boolean;
  /** Where the SFU's offers wait their turn (one per thread); without it, each is made at once. */
  turns?: OfferTurns;
  /** The connection cannot be trusted any more (a step hung, or answers never come). */
  onFailure: (error: Error) => void;
  logger: Logger;
}

/**
 * How long a renegotiation of a peer already connected gathers changes before
 * it asks for its turn: joins 100 ms apart fold two or three into one offer.
 * A newcomer's first offer does not wait.
 */
export const RENEGOTIATION_GATHER_MS = 250;

/** Unanswered SFU offers in a row before the peer is given up as failed. */
const MAX_UNANSWERED_OFFERS = 3;

/**
 * Serialises every signaling step of one peer connection and resolves glare
 * on the SFU's side (PROTOCOL §5): the SFU offers only while stable; a client
 * offer that arrives while the SFU's offer is outstanding rolls that offer
 * back, is answered, and the SFU offers again afterwards.
 *
 * It also pins the SFU's ICE role. The client always offers first, so the SFU
 * is the controlled agent for the life of the connection; werift re-derives
 * the role from every local description (an SFU re-offer would make it
 * controlling, as the browser still is), which stalls checks that are still
 * running.
 */
export class Negotiator {
  readonly #pc: RTCPeerConnection;
  readonly #options: NegotiatorOptions;
  readonly #logger: Logger;
  #queue: Promise<unknown> = Promise.resolve();
  /** Whether the SFU's side changed since its last offer. */
  #needed = false;
  /** PROTOCOL §5: the client offers first; the SFU never offers before it has answered that offer. */
  #state: "awaiting-first-offer" | "established" | "closed" = "awaiting-first-offer";
  #answerTimer: NodeJS.Timeout | undefined;
  /** Armed by a renegotiation's first change (see RENEGOTIATION_GATHER_MS). */
  #gatherTimer: NodeJS.Timeout | undefined;
  #unanswered = 0;
  /** Whether the client has answered an SFU offer yet: until then its offers go first (see OfferTurns). */
  #answeredAny = false;
  /** This connection's place in {@link NegotiatorOptions.turns}; one function, so it waits in one place. */
  readonly #turn = (): Promise<void> =>
    this.#enqueue(() => this.#offer()).catch((error: unknown) => this.#fail(error));
  /** Aborted by {@link close}: ends a step still waiting on werift, with its timeout timer. */
  readonly #closing = new AbortController();

  constructor(options: NegotiatorOptions) {
    this.#pc = options.pc;
    this.#options = options;
    this.#logger = options.logger;
  }

  /** The SFU's offer still waiting for an answer, if any, as it was sent. */
  get pendingOffer(): SessionDescription | undefined {
    const local = this.#pc.localDescription;
    if (this.#pc.signalingState !== "have-local-offer" || !local) return undefined;
    return { type: "offer", sdp: jsepOffer(local.sdp) };
  }

  /** Answers a client offer (glare-safe). */
  handleOffer(sdp: string): Promise<SessionDescription> {
    return this.#enqueue(async () => {
      if (this.#pc.signalingState === "have-local-offer") {
        this.#logger.debug("glare: rolling back the SFU offer");
        this.#clearAnswerTimer();
        await this.#step(this.#pc.setLocalDescription({ type: "rollback" }), "rollback");
        this.#needed = true;
      }
      await this.#step(this.#pc.setRemoteDescription({ type: "offer", sdp }), "setRemoteDescription(offer)");
      const answer = await this.#step(this.#pc.createAnswer(), "createAnswer");
      await this.#step(this.#pc.setLocalDescription(answer), "setLocalDescription(answer)");
      pinControlledRole(this.#pc);
      this.#startRestartedIce();
      if (this.#state === "awaiting-first-offer") this.#state = "established";
      this.#scheduleOffer();
      return { type: "answer" as const, sdp: this.#pc.localDescription?.sdp ?? answer.sdp };
    });
  }

  /** Applies the client's answer to the SFU's outstanding offer. */
  handleAnswer(sdp: string): Promise<void> {
    return this.#enqueue(async () => {
      if (this.#pc.signalingState !== "have-local-offer") {
        throw new SfuError("BAD_REQUEST", "no SFU offer is waiting for an answer");
      }
      await this.#step(
        this.#pc.setRemoteDescription({ type: "answer", sdp: bundledAnswer(sdp) }),
        "setRemoteDescription(answer)",
      );
      this.#clearAnswerTimer();
      this.#unanswered = 0;
      this.#answeredAny = true;
      this.#scheduleOffer();
    });
  }

  /** Marks the SFU's side as changed; an offer follows as soon as the connection is stable. */
  requestNegotiation(): void {
    this.#needed = true;
    this.#scheduleOffer();
  }

  /** Sends the outstanding offer again, e.g. to a client that just resumed its session. */
  resendPendingOffer(): void {
    if (this.#state === "closed") return;
    const offer = this.pendingOffer;
    if (!offer) this.#scheduleOffer();
    else if (this.#options.sendOffer(offer)) this.#startAnswerTimer();
  }

  close(): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    this.#clearAnswerTimer();
    clearTimeout(this.#gatherTimer);
    this.#gatherTimer = undefined;
    // A turn still waiting would build an offer on a closed connection.
    this.#options.turns?.cancel(this.#turn);
    this.#closing.abort(new NegotiationError("the peer connection is closed"));
  }

  #scheduleOffer(): void {
    if (!this.#needed || this.#state === "closed") return;
    const turns = this.#options.turns;
    // While an offer is outstanding its answer schedules the next one; changes until then wait for it.
    if (turns && this.#state === "established" && this.#pc.signalingState === "stable") {
      if (!this.#answeredAny) turns.request(this.#turn, true);
      else if (!this.#gatherTimer)
        this.#gatherTimer = setTimeout(() => {
          this.#gatherTimer = undefined;
          if (this.#state !== "closed") turns.request(this.#turn, false);
        }, RENEGOTIATION_GATHER_MS);
    } else {
      void this.#turn();
    }
  }

  async #offer(): Promise<void> {
    if (!this.#needed || this.#state !== "established" || this.#pc.signalingState !== "stable") return;
    this.#needed = false;
    const offer = await this.#step(this.#pc.createOffer(), "createOffer");
    await this.#step(this.#pc.setLocalDescription(offer), "setLocalDescription(offer)");
    pinControlledRole(this.#pc);
    const sdp = jsepOffer(this.#pc.localDescription?.sdp ?? offer.sdp);
    // A detached client gets this offer again when it resumes; no answer is awaited until then.
    if (this.#options.sendOffer({ type: "offer", sdp })) this.#startAnswerTimer();
  }

  #startAnswerTimer(): void {
    this.#clearAnswerTimer();
    this.#answerTimer = setTimeout(() => this.#onAnswerTimeout(), this.#options.answerTimeoutMs);
  }

  #onAnswerTimeout(): void {
    this.#answerTimer = undefined;
    this.#unanswered++;
    if (this.#unanswered >= MAX_UNANSWERED_OFFERS) {
      this.#fail(new NegotiationError(`${this.#unanswered} offers went unanswered`));
      return;
    }
    // Roll back and offer afresh: the client may have lost the offer in a reconnect.
    this.#enqueue(async () => {
      if (this.#pc.signalingState !== "have-local-offer") return;
      await this.#step(this.#pc.setLocalDescription({ type: "rollback" }), "rollback");
      this.#needed = true;
      this.#scheduleOffer();
    }).catch((error: unknown) => this.#fail(error));
  }

  /** After a client's ICE restart, checks must run even though DTLS is still up (see restartIceChecks). */
  #startRestartedIce(): void {
    restartIceChecks(this.#pc, (error) => this.#logger.warn("ICE restart checks failed", { error }));
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(() => {
      if (this.#state === "closed") throw new NegotiationError("the peer connection is closed");
      return task();
    });
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async #step<T>(promise: Promise<T>, what: string): Promise<T> {
    try {
      const result = await withTimeout(promise, this.#options.stepTimeoutMs, what, this.#closing.signal);
      // A close that lands after werift settled but before this line must still stop the task here.
      this.#closing.signal.throwIfAborted();
      return result;
    } catch (error) {
      if (error instanceof TimeoutError) {
        // werift's state is unknown after a hung step: the connection is beyond repair.
        const failure = new NegotiationError(`${what} did not complete`, { cause: error });
        this.#fail(failure);
        throw failure;
      }
      if (error instanceof SfuError) throw error;
      throw new NegotiationError(
        `${what} failed: ${error instanceof Error ? error.message : String(error)}`,
        {
          cause: error,
        },
      );
    }
  }

  #fail(error: unknown): void {
    if (this.#state === "closed") return;
    this.#logger.warn("negotiation failed", { error });
    this.#options.onFailure(error instanceof Error ? error : new Error(String(error)));
  }

  #clearAnswerTimer(): void {
    clearTimeout(this.#answerTimer);
    this.#answerTimer = undefined;
  }
}
