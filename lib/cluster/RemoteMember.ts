import { SfuError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { PeerControlState } from "../protocol.js";
import type { PeerSession, PeerSessionEvents } from "../sfu/Sfu.js";
import { TypedEmitter } from "../util/TypedEmitter.js";
import type { MemberInfo } from "./messages.js";

/**
 * A member of a room whose media lives elsewhere and whose socket is not on
 * this node: known here only so that this node's clients are told about it.
 */
export class RemoteMember extends TypedEmitter<PeerSessionEvents> implements PeerSession {
  readonly id: string;
  readonly roomId: string;
  readonly userId: string;
  readonly displayName: string | undefined;
  /** Never known here: the secret stays with the room's node and the member's own. */
  readonly resumeToken = "";
  readonly closed = false;
  #controlState: PeerControlState;

  constructor(roomId: string, member: MemberInfo, logger: Logger) {
    super(logger);
    this.id = member.peerId;
    this.roomId = roomId;
    this.userId = member.userId;
    this.displayName = member.displayName;
    this.#controlState = { ...member.controlState };
  }

  /** As the room's node last reported it (at admission or join, then with each `peer-updated`). */
  get controlState(): PeerControlState {
    return { ...this.#controlState };
  }

  /** The room's node reported a new mute or deafen state. */
  mirrorControl(state: PeerControlState): void {
    this.#controlState = { ...state };
  }

  control(): Promise<never> {
    return Promise.reject(notHere());
  }

  handleOffer(): Promise<never> {
    return Promise.reject(notHere());
  }

  handleAnswer(): Promise<never> {
    return Promise.reject(notHere());
  }

  addIceCandidate(): Promise<never> {
    return Promise.reject(notHere());
  }

  detach(): void {}

  attach(): void {}

  /** Ending a session is the room's node's to do (the admin routes ask it there). */
  close(): void {}
}

function notHere(): SfuError {
  return new SfuError("NOT_JOINED", "this session is signaled through another node");
}
