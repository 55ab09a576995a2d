import { isIP } from "node:net";
import { networkInterfaces } from "node:os";
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
  // On the shared port, one host address per family: every candidate of a family is the same socket.
  const hosts = media.udpPort === undefined ? undefined : Object.values(sharedPortHosts(media));
  return {
    iceServers: media.iceServers,
    // setLocalDescription waits for gathering: an unreachable STUN server must not stall every join for 5 s.
    iceStunGatherTimeout: 2,
    ...(media.portRange && { icePortRange: media.portRange }),
    // With advertised IPs, gather only those: one wildcard-bound socket each, no interface scan.
    ...((hosts ?? advertise) && { iceAdditionalHostAddresses: hosts ?? media.advertiseIps }),
    iceUseIpv4: !advertise && !hosts,
    iceUseIpv6: !advertise && !hosts && media.useIpv6,
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

/**
 * The one host address per address family that candidates on the shared
 * port (ICE_UDP_PORT) carry: the first advertised IP of the family; without
 * any, the bind address when it is an IP, else this host's first external
 * interface address (loopback when it has none). The families are those of
 * the advertised IPs, or IPv4 (and IPv6 with `useIpv6`).
 */
export function sharedPortHosts(media: MediaOptions): Partial<Record<4 | 6, string>> {
  const hosts: Partial<Record<4 | 6, string>> = {};
  for (const ip of media.advertiseIps) {
    const family = isIP(ip) as 4 | 6;
    hosts[family] ??= ip;
  }
  if (media.advertiseIps.length > 0) return hosts;
  for (const family of media.useIpv6 ? ([4, 6] as const) : ([4] as const)) {
    const bind = media.bindAddress;
    const bound = bind !== undefined && isIP(bind) === family && !/^(0\.0\.0\.0|::)$/.test(bind);
    hosts[family] = bound ? bind : interfaceAddress(family);
  }
  return hosts;
}

function interfaceAddress(family: 4 | 6): string {
  for (const addresses of Object.values(networkInterfaces())) {
    for (const address of addresses ?? []) {
      // Link-local IPv6 needs a zone; a candidate cannot carry one.
      if (address.internal || address.family !== `IPv${family}` || address.address.startsWith("fe80:"))
        continue;
      return address.address;
    }
  }
  return family === 4 ? "127.0.0.1" : "::1";
}
