import { isIP } from "node:net";
import { StunOverTurnProtocol, type RTCPeerConnection, type RTCPeerConnectionConfig } from "werift";
import type { CandidateType, MediaOptions, RelayOptions, SelectedPair } from "../types.js";
import { turnCredentials } from "../util/turnCredentials.js";

type ConnectivityConfig = Pick<
  Partial<RTCPeerConnectionConfig>,
  "iceServers" | "iceTransportPolicy" | "turnTransport" | "iceInterfaceAddresses"
>;

/**
 * The part of a peer connection's configuration that PROTOCOL §13 adds:
 * relay-only gathering on the configured TURN server (credentials minted
 * for `name`, this connection) and the address media sockets bind to.
 */
export function connectivityConfig(media: MediaOptions, name: string): ConnectivityConfig {
  return {
    ...(media.relay && relayConfig(media.relay, name)),
    ...(media.bindAddress !== undefined && {
      iceInterfaceAddresses: interfaceAddresses(media.bindAddress, media.useIpv6),
    }),
  };
}

function relayConfig(relay: RelayOptions, name: string): ConnectivityConfig {
  return {
    iceServers: [{ urls: relay.url, ...turnCredentials(relay.credentials, name) }],
    // werift then gathers nothing but the relayed candidate, and checks only pairs that use it.
    iceTransportPolicy: "relay",
    turnTransport: turnTransport(relay.url),
  };
}

/** How the SFU reaches the TURN server: `turns:` is TLS, `?transport=tcp` is TCP, anything else UDP. */
export function turnTransport(url: string): "udp" | "tcp" | "tls" {
  if (/^turns:/i.test(url)) return "tls";
  return /[?&]transport=tcp\b/i.test(url) ? "tcp" : "udp";
}

/** werift binds each UDP socket to the address given for its family; a host name serves IPv4 (and IPv6 when enabled). */
function interfaceAddresses(address: string, useIpv6: boolean): { udp4?: string; udp6?: string } {
  const family = isIP(address);
  if (family === 4) return { udp4: address };
  if (family === 6) return { udp6: address };
  return { udp4: address, ...(useIpv6 && { udp6: address }) };
}

/** The pair ICE selected on `pc`, as `/debug/peers` shows it; null before ICE has selected one. */
export function selectedPair(pc: RTCPeerConnection): SelectedPair | null {
  for (const transport of pc.iceTransports) {
    const pair = transport.connection.nominated;
    if (!pair) continue;
    const local = candidateType(pair.localCandidate.type);
    const remote = candidateType(pair.remoteCandidate.type);
    // A relayed candidate's own transport is always UDP; what matters is how the SFU reaches the TURN server.
    const transportType =
      pair.protocol instanceof StunOverTurnProtocol
        ? pair.protocol.turn.transport.type
        : pair.localCandidate.transport.toLowerCase();
    return { local, remote, protocol: transportType === "udp" ? "udp" : "tcp" };
  }
  return null;
}

function candidateType(type: string): CandidateType {
  return type === "srflx" || type === "prflx" || type === "relay" ? type : "host";
}

/** What ICE tried on `pc`, for the log line of a peer whose ICE failed. */
export function candidatesTried(pc: RTCPeerConnection): { local: string[]; remote: string[] } {
  const local: string[] = [];
  const remote: string[] = [];
  for (const transport of pc.iceTransports) {
    const connection = transport.connection;
    for (const c of connection.localCandidates) local.push(describe(c));
    for (const c of connection.remoteCandidates) remote.push(describe(c));
  }
  return { local, remote };
}

function describe(candidate: { type: string; transport: string; host: string; port: number }): string {
  return `${candidate.type} ${candidate.transport.toLowerCase()} ${candidate.host}:${candidate.port}`;
}
