import type { RTCPeerConnectionConfig } from "werift";

/** The one address test and bench peers use. */
export const LOOPBACK = "127.0.0.1";

/**
 * ICE settings that keep a werift peer on 127.0.0.1, shared by the test
 * clients and the bench's load peers: no STUN, host gathering off, and the
 * one host candidate from iceAdditionalHostAddresses.
 */
export function loopbackIce(): Pick<
  RTCPeerConnectionConfig,
  "iceServers" | "iceUseIpv4" | "iceUseIpv6" | "iceAdditionalHostAddresses"
> {
  return {
    iceServers: [],
    iceUseIpv4: false,
    iceUseIpv6: false,
    iceAdditionalHostAddresses: [LOOPBACK],
  };
}
