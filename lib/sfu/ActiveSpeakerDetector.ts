import type { Logger } from "../logger.js";
import type { ActiveSpeaker } from "../protocol.js";
import type { ActiveSpeakerOptions } from "../types.js";
import { SpeechMeter, type SpeechRule } from "./SpeechMeter.js";

/** PROTOCOL §12: `active-speakers` goes out at most this often. */
export const MIN_UPDATE_GAP_MS = 300;

export interface ActiveSpeakerDetectorOptions {
  settings: ActiveSpeakerOptions;
  /** Called with the new list, loudest first, whenever the set or order of speakers changes. */
  onChange: (speakers: ActiveSpeaker[]) => void;
  /** Called after every tick with each participant's meter, freshly read (FORWARD_LOUDEST picks from them). */
  afterTick?: (meters: ReadonlyMap<string, SpeechMeter>) => void;
  logger: Logger;
}

/**
 * A room's active speakers: one {@link SpeechMeter} per participant, all
 * read by one timer per room. The list is reported when its set or order
 * changes, at most every {@link MIN_UPDATE_GAP_MS}; a change that reverts
 * before then is not reported at all.
 */
export class ActiveSpeakerDetector {
  readonly #meters = new Map<string, SpeechMeter>();
  readonly #options: ActiveSpeakerDetectorOptions;
  readonly #rule: SpeechRule;
  readonly #slots: number;
  readonly #timer: NodeJS.Timeout;
  /** Peer ids of the last list reported, in order. */
  #reported: string[] = [];
  #reportedAt = -Infinity;
  #closed = false;

  constructor(options: ActiveSpeakerDetectorOptions) {
    const { settings } = options;
    this.#options = options;
    this.#rule = {
      thresholdDbov: settings.thresholdDbov,
      startShare: settings.startPercent / 100,
      holdShare: Math.min(settings.holdPercent, settings.startPercent) / 100,
    };
    this.#slots = Math.max(1, Math.round(settings.windowMs / settings.intervalMs));
    this.#timer = setInterval(() => this.#tick(), settings.intervalMs);
    // Rooms end with their last peer; the timer must not keep a draining process alive meanwhile.
    this.#timer.unref();
  }

  /** A meter for a new participant's published tracks to feed; read once {@link add}ed. */
  createMeter(): SpeechMeter {
    return new SpeechMeter(this.#slots);
  }

  add(peerId: string, meter: SpeechMeter): void {
    if (!this.#closed) this.#meters.set(peerId, meter);
  }

  /** The participant left: it leaves the list at the next tick. */
  remove(peerId: string): void {
    this.#meters.delete(peerId);
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#meters.clear();
  }

  #tick(): void {
    const speakers: ActiveSpeaker[] = [];
    for (const [peerId, meter] of this.#meters) {
      meter.tick(this.#rule);
      if (meter.speaking) speakers.push({ peerId, level: meter.level });
    }
    try {
      this.#options.afterTick?.(this.#meters);
    } catch (error) {
      this.#options.logger.error("level listener failed", { error });
    }
    // Equal levels keep the order last reported, so two steady speakers do not swap places.
    const rank = (peerId: string) => {
      const index = this.#reported.indexOf(peerId);
      return index < 0 ? Infinity : index;
    };
    speakers.sort((a, b) => b.level - a.level || rank(a.peerId) - rank(b.peerId));
    if (sameOrder(speakers, this.#reported)) return;
    const now = performance.now();
    if (now - this.#reportedAt < MIN_UPDATE_GAP_MS) return;
    this.#reported = speakers.map((speaker) => speaker.peerId);
    this.#reportedAt = now;
    try {
      this.#options.onChange(speakers);
    } catch (error) {
      this.#options.logger.error("active-speaker listener failed", { error });
    }
  }
}

function sameOrder(speakers: ActiveSpeaker[], peerIds: string[]): boolean {
  return speakers.length === peerIds.length && speakers.every((speaker, i) => speaker.peerId === peerIds[i]);
}
