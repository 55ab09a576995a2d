import type { RTCRtpReceiver } from "werift";

/** A stand-in for werift's receiver of an m-line: no sender reports seen, RTCP SSRC 1. */
export function fakeReceiver(): RTCRtpReceiver {
  return { lastSRtimestamp: {}, receiveLastSRTimestamp: {}, rtcpSsrc: 1 } as unknown as RTCRtpReceiver;
}
