import { RTCPeerConnection, RTCRtpCodecParameters, useAudioLevelIndication, useSdesMid } from "werift";
import type { MediaOptions } from "../types.js";
import type { DatagramGuard } from "./DatagramGuard.js";

const OPUS = new RTCRtpCodecParameters({
  mimeType: "audio/opus",
  clockRate: 48000,
  channels: 2,
  payloadType: 111,
  parameters: "minptime=10;useinbandfec=1",
});

/** The werift configuration of every peer connection the SFU makes. */
export function peerConfig(
  media: MediaOptions,
  filterStun: DatagramGuard["filter"],
): ConstructorParameters<typeof RTCPeerConnection>[0] {
  const advertise = media.advertiseIps.length > 0;
  return {
    iceServers: media.iceServers,
    // setLocalDescription waits for gathering: an unreachable STUN server must not stall every join for 5 s.
    iceStunGatherTimeout: 2,
    ...(media.portRange && { icePortRange: media.portRange }),
    // With advertised IPs, gather only those: one wildcard-bound socket each, no interface scan.
    ...(advertise && { iceAdditionalHostAddresses: media.advertiseIps }),
    iceUseIpv4: !advertise,
    iceUseIpv6: !advertise && media.useIpv6,
    bundlePolicy: "max-bundle",
    codecs: { audio: [OPUS], video: [] },
    headerExtensions: { audio: [useSdesMid(), useAudioLevelIndication()], video: [] },
    iceFilterStunResponse: filterStun,
  };
}

/** Whether any of `media`'s ICE servers is a STUN server. */
export function hasStunServer(media: MediaOptions): boolean {
  return media.iceServers.some((server) =>
    (Array.isArray(server.urls) ? server.urls : [server.urls]).some((url) => /^stuns?:/i.test(url)),
  );
}
