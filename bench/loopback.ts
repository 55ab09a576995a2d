/**
 * WebRTC settings that keep every bench peer (load clients and the naive
 * relay) on 127.0.0.1: the machine's other interfaces are never gathered,
 * advertised or checked.
 */
import {
  RTCRtpCodecParameters,
  useSdesMid,
  type RTCIceCandidate,
  type RTCPeerConnectionConfig,
} from "werift";
import { LOOPBACK, loopbackIce } from "../test/helpers/loopbackIce.js";

export { LOOPBACK };

/**
 * Peer configuration: only a loopback UDP host candidate, Opus without RTCP
 * feedback (no TWCC/NACK state per packet) and only the `mid` header extension,
 * which is what the SFU needs to route a bundled m-line.
 */
export function loopbackPeerConfig(): RTCPeerConnectionConfig {
  return {
    ...loopbackIce(),
    iceUseTcp: false,
    iceTcpPassive: false,
    iceInterfaceAddresses: { udp4: LOOPBACK },
    // The other side may still advertise non-loopback candidates; never check them.
    iceFilterCandidatePair: (pair) => pair.remoteCandidate.host === LOOPBACK,
    codecs: {
      audio: [
        new RTCRtpCodecParameters({
          mimeType: "audio/opus",
          clockRate: 48000,
          channels: 2,
          payloadType: 111,
          rtcpFeedback: [],
        }),
      ],
      video: [],
    },
    headerExtensions: { audio: [useSdesMid()], video: [] },
  };
}

/** The connection address of an SDP candidate line (`candidate:f c udp prio ADDR port typ …`). */
function candidateAddress(candidate: string): string | undefined {
  return candidate.replace(/^a=/, "").split(" ")[4];
}

/** True for end-of-candidates (empty) and loopback candidates. */
export function isLoopbackCandidate(candidate: string): boolean {
  return candidate === "" || candidateAddress(candidate) === LOOPBACK;
}

/** Drops `a=candidate` lines that are not on loopback from an SDP. */
export function keepLoopbackCandidates(sdp: string): string {
  return sdp
    .split("\r\n")
    .filter((line) => !line.startsWith("a=candidate:") || isLoopbackCandidate(line))
    .join("\r\n");
}

/** Plain JSON for the wire; werift's candidate carries `undefined` fields and methods. */
export function candidateToWire(candidate: RTCIceCandidate): {
  candidate: string;
  sdpMid?: string;
  sdpMLineIndex?: number;
} {
  const json = candidate.toJSON();
  return {
    candidate: json.candidate,
    ...(json.sdpMid !== undefined ? { sdpMid: json.sdpMid } : {}),
    ...(json.sdpMLineIndex !== undefined ? { sdpMLineIndex: json.sdpMLineIndex } : {}),
  };
}
