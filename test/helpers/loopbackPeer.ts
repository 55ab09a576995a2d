import { RTCPeerConnection, type RTCPeerConnectionConfig } from "werift";
import { loopbackIce } from "./loopbackIce.js";
import { waitFor } from "./wait.js";

/** A werift peer connection as the test clients make it: one 127.0.0.1 host candidate, bundled. */
export function loopbackPeer(config: Partial<RTCPeerConnectionConfig> = {}): RTCPeerConnection {
  return new RTCPeerConnection({
    ...loopbackIce(),
    bundlePolicy: "max-bundle",
    ...config,
  });
}

/**
 * The offer SDP of a loopback peer after `setup` adds its transceivers; the
 * connection is closed before this returns, so ICE can never complete.
 */
export async function closedOffer(
  setup: (pc: RTCPeerConnection) => void,
  options: { config?: Partial<RTCPeerConnectionConfig>; waitForGathering?: boolean } = {},
): Promise<string> {
  const pc = loopbackPeer(options.config);
  try {
    setup(pc);
    await pc.setLocalDescription(await pc.createOffer());
    if (options.waitForGathering)
      await waitFor(() => pc.iceGatheringState === "complete", 5_000, "gathering");
    return pc.localDescription!.sdp;
  } finally {
    await pc.close();
  }
}
