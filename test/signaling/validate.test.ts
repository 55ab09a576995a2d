import { expect } from "chai";
import { BadRequestError } from "../../lib/errors.js";
import { PayloadValidator } from "../../server/signaling/validate.js";

/** The BAD_REQUEST message `read` fails with, or the value it returns. */
function outcome(read: () => unknown): unknown {
  try {
    return { value: read() };
  } catch (error) {
    expect(error).to.be.instanceOf(BadRequestError);
    return (error as Error).message;
  }
}

describe("PayloadValidator", () => {
  const validator = new PayloadValidator({ maxSdpBytes: 10 });

  it("keeps only the contract's fields and drops the absent ones from join", () => {
    const join = { roomId: "r", userId: "u", displayName: null, token: "", resumeToken: null, admin: true };
    expect(outcome(() => validator.join(join))).to.deep.equal({ value: { roomId: "r", userId: "u" } });
    expect(outcome(() => validator.join({ roomId: "r", userId: "u", displayName: "" }))).to.deep.equal({
      value: { roomId: "r", userId: "u", displayName: "" },
    });
  });

  it("names the first field that fails, in the contract's order, with its first failing rule", () => {
    expect(outcome(() => validator.join({ roomId: "", userId: 5 }))).to.equal("roomId must not be empty");
    expect(outcome(() => validator.join({ roomId: "r\u0085", userId: "u" }))).to.equal(
      "roomId must not contain whitespace or control characters",
    );
    expect(outcome(() => validator.join({ roomId: "r", userId: "u", displayName: "a\u0001" }))).to.equal(
      "displayName must not contain control characters",
    );
    expect(outcome(() => validator.join(new Date()))).to.equal("roomId is required");
  });

  it("asks an offer for its own type, present or not, and bounds its SDP", () => {
    expect(outcome(() => validator.offer({ sdp: "x" }))).to.equal('type must be "offer"');
    expect(outcome(() => validator.answer({ type: "offer", sdp: "x" }))).to.equal('type must be "answer"');
    expect(outcome(() => validator.offer({ type: "offer" }))).to.equal("sdp is required");
    expect(outcome(() => validator.offer({ type: "offer", sdp: "" }))).to.equal("sdp must not be empty");
    expect(outcome(() => validator.offer({ type: "offer", sdp: "x".repeat(11) }))).to.equal(
      "sdp is larger than 10 bytes",
    );
    expect(outcome(() => validator.offer({ type: "offer", sdp: "v=0", extra: 1 }))).to.deep.equal({
      value: { type: "offer", sdp: "v=0" },
    });
  });

  it("keeps a candidate's null fields as null and refuses indexes that are not whole numbers in range", () => {
    expect(
      outcome(() => validator.iceCandidate({ candidate: "c", sdpMid: null, sdpMLineIndex: null })),
    ).to.deep.equal({ value: { candidate: "c", sdpMid: null, sdpMLineIndex: null } });
    expect(outcome(() => validator.iceCandidate({ candidate: "c", sdpMLineIndex: Number.NaN }))).to.equal(
      "sdpMLineIndex must be a number",
    );
    expect(outcome(() => validator.iceCandidate({ candidate: "c", sdpMLineIndex: Infinity }))).to.equal(
      "sdpMLineIndex must be a number",
    );
    expect(outcome(() => validator.iceCandidate({ candidate: "c", sdpMLineIndex: 2 ** 60 }))).to.equal(
      "sdpMLineIndex must be a whole number",
    );
    expect(outcome(() => validator.iceCandidate({ candidate: "c", sdpMLineIndex: 1024 }))).to.equal(
      "sdpMLineIndex must be between 0 and 1023",
    );
  });

  it("tells a missing flag from a wrong one", () => {
    expect(outcome(() => validator.mute({}))).to.equal("muted is required");
    expect(outcome(() => validator.mute({ muted: null }))).to.equal("muted must be a boolean");
    expect(outcome(() => validator.deafen({ deafened: "true" }))).to.equal("deafened must be a boolean");
    expect(outcome(() => validator.mute([true]))).to.equal("payload must be an object");
  });
});
