import { expect } from "chai";
import { CLOSE_DESCRIPTIONS, CLOSE_REASONS, toWire, type CloseReason } from "../../lib/sfu/closeReason.js";
import { LEAVE_REASONS } from "../../lib/protocol.js";

describe("close reasons on the wire", () => {
  it("tells the room and the removed client what PROTOCOL §4 and §11 promise for each reason", () => {
    const told = Object.fromEntries(
      CLOSE_REASONS.map((reason) => {
        const wire = toWire(reason);
        return [reason, [wire.userLeft ?? null, wire.error?.code ?? null]];
      }),
    ) as Record<CloseReason, [string | null, string | null]>;
    expect(told).to.deep.equal({
      leave: ["leave", null],
      disconnect: ["disconnect", null],
      "grace-expired": ["disconnect", null],
      replaced: ["replaced", "REPLACED"],
      kicked: ["kicked", "KICKED"],
      "ice-timeout": ["failed", "NEGOTIATION_FAILED"],
      "media-failed": ["failed", "NEGOTIATION_FAILED"],
      "negotiation-failed": ["failed", "NEGOTIATION_FAILED"],
      "worker-failed": ["failed", "NEGOTIATION_FAILED"],
      // Told SHUTTING_DOWN as the drain began; a shutdown is nobody's departure.
      shutdown: [null, null],
    });
    for (const reason of CLOSE_REASONS) {
      const { userLeft } = toWire(reason);
      if (userLeft !== undefined) expect(LEAVE_REASONS).to.include(userLeft);
      expect(CLOSE_DESCRIPTIONS[reason], reason).to.be.a("string").that.is.not.empty;
    }
  });
});
