import {
  MediaStreamTrack,
  RTCPeerConnection,
  RtpHeader,
  RtpPacket,
  useAudioLevelIndication,
  useSdesMid,
  type RTCPeerConnectionConfig,
} from "werift";
import type { IceServer, JoinedMessage, SessionDescription } from "../../lib/protocol.js";
import { AUDIO_LEVEL_URI } from "../../lib/sfu/rtp.js";
import { loopbackPeer } from "./loopbackPeer.js";
import { SignalingClient } from "./SignalingClient.js";
import { waitFor } from "./wait.js";

export interface MediaClientOptions {
  roomId: string;
  userId: string;
  displayName?: string;
  /** A join token (PROTOCOL §7). */
  token?: string;
  /** Publish a microphone-like track (default true). */
  publish?: boolean;
  /** Reconnect the socket automatically like a browser app (default false). */
  reconnection?: boolean;
  /**
   * Refuse, like a strict WebRTC stack, any SFU offer that breaks JSEP's
   * rules for offers ({@link jsepViolation}): it is recorded in
   * `refusedOffers` and never answered (default false).
   */
  strictOffers?: boolean;
  /** Further werift configuration of the client's connection. */
  config?: Partial<RTCPeerConnectionConfig>;
  /** Send the first offer as part of `join` (default true); false leaves it to the test. */
  negotiate?: boolean;
  /**
   * Gather only relayed candidates, on the TURN servers `joined` names (or
   * those `iceServers` returns), as a browser with `iceTransportPolicy: "relay"`.
   */
  relay?: {
    iceServers?: (joined: JoinedMessage) => IceServer[];
    turnTlsOptions?: RTCPeerConnectionConfig["turnTlsOptions"];
  };
  /** Offer the RFC 6464 audio-level extension (default true). */
  levelExtension?: boolean;
  /** The level every packet carries, in -dBov (0 loudest, 127 silent); unset sends none. */
  audioLevel?: number;
}

interface Received {
  packets: number;
  /** Payloads that differed from what the source sent. */
  corrupt: number;
  /** Sequence numbers that did not follow the previous one by exactly 1. */
  seqJumps: number;
  lastSeq?: number;
  lastAt: number;
  /** Source tags found inside the payloads (the sender's userId). */
  sources: Set<string>;
}

const PAYLOAD_BYTES = 100;

/**
 * The payload a source sends as its `seq`-th packet: a readable tag followed by
 * bytes derived from it, so any receiver can check byte-identity.
 */
export function expectedPayload(source: string, seq: number): Buffer {
  const payload = Buffer.alloc(PAYLOAD_BYTES);
  const tag = `${source}#${seq}#`;
  payload.write(tag, "latin1");
  for (let i = tag.length; i < PAYLOAD_BYTES; i++) payload[i] = (seq * 31 + i * 7) & 0xff;
  return payload;
}

function parsePayload(payload: Buffer): { source: string; seq: number } | undefined {
  const match = /^([^#]{1,128})#(\d+)#/.exec(payload.toString("latin1", 0, Math.min(payload.length, 150)));
  return match ? { source: match[1]!, seq: Number(match[2]) } : undefined;
}

/**
 * What a strict WebRTC stack finds wrong with an offer, or undefined: every
 * m-section must say `a=setup:actpass` (RFC 8829 §5.2.1-5.2.2, for the first
 * offer and every later one) and a stopped m-section must keep `a=rtcp-mux`.
 */
export function jsepViolation(sdp: string): string | undefined {
  const sections = sdp.split(/\r?\n(?=m=)/).slice(1);
  for (const [index, section] of sections.entries()) {
    const lines = section.split(/\r?\n/);
    const setup = lines.find((l) => l.startsWith("a=setup:"));
    if (setup !== "a=setup:actpass") return `m-section ${index} has ${setup ?? "no a=setup"}`;
    if (/^m=\S+ 0 /.test(lines[0]!) && !lines.includes("a=rtcp-mux"))
      return `stopped m-section ${index} has no a=rtcp-mux`;
  }
  return undefined;
}

/**
 * Writes one 100-byte packet every 20 ms on `track`, like an Opus microphone,
 * each payload `expectedPayload(source, seq)`; clear the returned timer to stop.
 * `next` carries the sequence number across a stop and a restart (SRTP drops replays).
 * `level`, read per packet, gives the RFC 6464 extension's id and level (-dBov) to send; none without it.
 */
export function sendAudio(
  track: MediaStreamTrack,
  source: string,
  next: { seq: number } = { seq: 0 },
  level: () => { id: number; level: number } | undefined = () => undefined,
): NodeJS.Timeout {
  return setInterval(() => {
    const seq = next.seq++;
    const extension = level();
    const header = new RtpHeader({
      payloadType: 111,
      sequenceNumber: seq & 0xffff,
      timestamp: (seq * 960) >>> 0,
      marker: seq === 0,
      extensions: extension ? [{ id: extension.id, payload: Buffer.of(0x80 | extension.level) }] : [],
    });
    track.writeRtp(new RtpPacket(header, expectedPayload(source, seq)));
  }, 20);
}

/**
 * A headless participant: a real werift RTCPeerConnection behind a real
 * Socket.IO client, behaving like a browser (it keeps its ICE role, answers
 * the SFU's offers, trickles candidates).
 */
export class MediaClient {
  /** The current socket; {@link resumeThrough} replaces it. */
  signaling: SignalingClient;
  readonly pc: RTCPeerConnection;
  readonly options: MediaClientOptions;
  readonly received = new Map<string, Received>();
  /** Stream ids of the tracks the SFU forwarded, in arrival order. */
  readonly trackStreams: string[] = [];
  joined: JoinedMessage | undefined;
  /** When true, SFU offers are held back instead of answered (to provoke glare). */
  holdOffers = false;
  /** The RFC 6464 level (-dBov) each packet sent from now on carries; undefined sends none. */
  audioLevel: number | undefined;
  readonly heldOffers: SessionDescription[] = [];
  /** SFU offers refused under `strictOffers`, with what was wrong. */
  readonly refusedOffers: Array<{ offer: SessionDescription; violation: string }> = [];
  /** Acks the SFU refused and renegotiation steps that threw; `assertHealthy()` fails the test on any. */
  readonly failures: string[] = [];
  /** Failures a test provokes on purpose; they are not recorded. */
  tolerate: RegExp | undefined;
  #track: MediaStreamTrack | undefined;
  #sendTimer: NodeJS.Timeout | undefined;
  readonly #next = { seq: 0 };
  #queue: Promise<unknown> = Promise.resolve();
  #closed = false;
  /** Set once the SFU ended the session (REPLACED, KICKED, SHUTTING_DOWN): acks in flight may then be refused. */
  #endedBySfu = false;

  constructor(url: string, options: MediaClientOptions) {
    this.options = options;
    this.audioLevel = options.audioLevel;
    this.signaling = new SignalingClient(url, { reconnection: options.reconnection ?? false });
    const extensions = [
      useSdesMid(),
      ...(options.levelExtension === false ? [] : [useAudioLevelIndication()]),
    ];
    this.pc = loopbackPeer({ headerExtensions: { audio: extensions }, ...options.config });
    this.pc.onIceCandidate.subscribe((candidate) => {
      if (!candidate) return;
      this.signaling.request("ice-candidate", candidate.toJSON()).then(
        (ack) => {
          if (!ack.ok) this.#fail(`candidate refused: ${ack.error.code} ${ack.error.message}`);
        },
        (error: unknown) => this.#fail(`candidate not acked: ${String(error)}`),
      );
    });
    this.pc.ontrack = ({ track, streams }) => {
      const streamId = streams[0]?.id ?? "";
      this.trackStreams.push(streamId);
      track.onReceiveRtp.subscribe((packet) => this.#onRtp(streamId, packet));
    };
    this.#listen();
  }

  /**
   * Resumes this session through another SFU URL (a new socket, as after the
   * old one's server died), keeping the peer connection and its media.
   */
  async resumeThrough(url: string): Promise<JoinedMessage> {
    if (!this.joined) throw new Error("not joined");
    this.signaling.close();
    this.signaling = new SignalingClient(url, { reconnection: false });
    this.#listen();
    await this.signaling.connected();
    this.joined = await this.signaling.join({
      roomId: this.options.roomId,
      userId: this.options.userId,
      resumeToken: this.joined.resumeToken,
    });
    return this.joined;
  }

  #listen(): void {
    const socket = this.signaling.socket;
    socket.on("error", ({ code }) => {
      if (code === "REPLACED" || code === "KICKED" || code === "SHUTTING_DOWN") this.#endedBySfu = true;
    });
    socket.on("offer", (offer) => {
      const violation = this.options.strictOffers ? jsepViolation(offer.sdp) : undefined;
      if (violation !== undefined) this.refusedOffers.push({ offer, violation });
      else if (this.holdOffers) this.heldOffers.push(offer);
      else this.#renegotiate("answering an SFU offer", () => this.#answerOffer(offer));
    });
    socket.on("answer", (answer) => this.#renegotiate("applying an answer", () => this.#applyAnswer(answer)));
    socket.on(
      "ice-candidate",
      (candidate) => void this.pc.addIceCandidate(candidate as never).catch(() => undefined),
    );
  }

  /** Connects, joins, and (unless listen-only) publishes and negotiates the first offer. */
  static async join(url: string, options: MediaClientOptions): Promise<MediaClient> {
    const client = new MediaClient(url, options);
    await client.signaling.connected();
    client.joined = await client.signaling.join({
      roomId: options.roomId,
      userId: options.userId,
      ...(options.displayName !== undefined && { displayName: options.displayName }),
      ...(options.token !== undefined && { token: options.token }),
    });
    const relay = options.relay;
    if (relay) {
      // Before the first transceiver: werift builds its ICE gatherer from the configuration then.
      client.pc.setConfiguration({
        iceServers: relay.iceServers?.(client.joined) ?? client.joined.iceServers,
        iceTransportPolicy: "relay",
        ...(relay.turnTlsOptions && { turnTlsOptions: relay.turnTlsOptions }),
      });
    }
    if (options.publish ?? true) {
      client.#track = new MediaStreamTrack({ kind: "audio" });
      client.pc.addTransceiver(client.#track, { direction: "sendrecv" });
    } else {
      client.pc.addTransceiver("audio", { direction: "recvonly" });
    }
    if (options.negotiate ?? true) await client.offer();
    return client;
  }

  get peerId(): string {
    if (!this.joined) throw new Error("not joined");
    return this.joined.peerId;
  }

  /** Sends an offer of the current state and waits until its answer is applied. */
  async offer(options: { iceRestart?: boolean } = {}): Promise<void> {
    const answers = this.signaling.events("answer").length;
    await this.#enqueue(async () => {
      const offer = await this.pc.createOffer(options);
      await this.pc.setLocalDescription(offer);
      this.#keepControllingRole();
      const ack = await this.signaling.request("offer", {
        type: "offer",
        sdp: this.pc.localDescription!.sdp,
      });
      if (!ack.ok) throw new Error(`offer refused: ${ack.error.code} ${ack.error.message}`);
    });
    await waitFor(() => this.signaling.events("answer").length > answers, 10_000, "answer");
    await this.#queue;
    this.assertHealthy();
  }

  /** Resolves once every SFU offer received so far is answered and its answer acknowledged. */
  async settled(): Promise<void> {
    await this.#queue;
  }

  /** Answers every held SFU offer, in order, and goes back to answering at once. */
  async releaseHeldOffers(): Promise<void> {
    this.holdOffers = false;
    for (const offer of this.heldOffers.splice(0)) await this.#enqueue(() => this.#answerOffer(offer));
  }

  /** Starts sending one 100-byte packet every 20 ms, like an Opus microphone. */
  startSending(): void {
    const track = this.#track;
    if (!track || this.#sendTimer) return;
    const transceiver = this.pc.getTransceivers().find((t) => t.sender.track === track);
    const levelId = transceiver?.headerExtensions.find((e) => e.uri === AUDIO_LEVEL_URI)?.id;
    this.#sendTimer = sendAudio(track, this.options.userId, this.#next, () => {
      const level = this.audioLevel;
      return level !== undefined && levelId !== undefined ? { id: levelId, level } : undefined;
    });
  }

  stopSending(): void {
    clearInterval(this.#sendTimer);
    this.#sendTimer = undefined;
  }

  packetsFrom(peerId: string): number {
    return this.received.get(peerId)?.packets ?? 0;
  }

  stats(peerId: string): Received | undefined {
    return this.received.get(peerId);
  }

  /** Throws if the SFU refused one of this client's acks or a renegotiation step failed. */
  assertHealthy(): void {
    if (this.failures.length > 0)
      throw new Error(
        `${this.options.userId}: ${this.failures.length} failures: ${this.failures.join("; ")}`,
      );
  }

  /** Waits until `count` more packets arrive from `peerId`; fails at once on a refused ack. */
  async waitForPackets(peerId: string, count = 25, timeoutMs = 10_000): Promise<void> {
    const start = this.packetsFrom(peerId);
    await waitFor(
      () => {
        this.assertHealthy();
        return this.packetsFrom(peerId) >= start + count;
      },
      timeoutMs,
      `${count} packets from ${peerId}`,
    );
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.stopSending();
    this.signaling.close();
    await this.pc.close();
  }

  async #answerOffer(offer: SessionDescription): Promise<void> {
    if (this.#closed) return;
    await this.pc.setRemoteDescription(offer);
    const answer = await this.pc.createAnswer();
    await this.pc.setLocalDescription(answer);
    this.#keepControllingRole();
    const ack = await this.signaling.request("answer", {
      type: "answer",
      sdp: this.pc.localDescription!.sdp,
    });
    if (!ack.ok) throw new Error(`answer refused: ${ack.error.code} ${ack.error.message}`);
  }

  async #applyAnswer(answer: SessionDescription): Promise<void> {
    if (this.#closed || this.pc.signalingState !== "have-local-offer") return;
    await this.pc.setRemoteDescription(answer);
    // Like the SFU, werift skips ICE checks after a restart while DTLS is up; a browser does not.
    for (const dtls of this.pc.dtlsTransports) {
      if (dtls.state === "connected" && !dtls.iceTransport.connection.nominated)
        void dtls.iceTransport.start().catch(() => undefined);
    }
  }

  /** A browser keeps the role it took as first offerer; werift would re-derive it. */
  #keepControllingRole(): void {
    for (const transport of this.pc.iceTransports) transport.connection.iceControlling = true;
  }

  /** Runs a step nobody awaits in the queue; its error is recorded, never swallowed. */
  #renegotiate(what: string, task: () => Promise<void>): void {
    this.#enqueue(task).catch((error: unknown) => this.#fail(`${what} failed: ${String(error)}`));
  }

  #fail(failure: string): void {
    // After close(), or once the SFU ended the session, the SFU owes this client nothing.
    if (!this.#closed && !this.#endedBySfu && !this.tolerate?.test(failure)) this.failures.push(failure);
  }

  #enqueue<T>(task: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(task);
    this.#queue = run.catch(() => undefined);
    return run;
  }

  #onRtp(streamId: string, packet: RtpPacket): void {
    let entry = this.received.get(streamId);
    if (!entry) {
      entry = { packets: 0, corrupt: 0, seqJumps: 0, lastAt: 0, sources: new Set() };
      this.received.set(streamId, entry);
    }
    entry.packets++;
    entry.lastAt = Date.now();
    const seq = packet.header.sequenceNumber;
    if (entry.lastSeq !== undefined && seq !== ((entry.lastSeq + 1) & 0xffff)) entry.seqJumps++;
    entry.lastSeq = seq;
    const parsed = parsePayload(packet.payload);
    if (!parsed || !packet.payload.equals(expectedPayload(parsed.source, parsed.seq))) entry.corrupt++;
    else entry.sources.add(parsed.source);
  }
}
