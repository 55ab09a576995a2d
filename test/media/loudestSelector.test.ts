import { expect } from "chai";
import { LoudestSelector } from "../../lib/sfu/LoudestSelector.js";

/** Linear amplitude of -dbov dBov, the scale of the smoothed levels. */
const dbov = (value: number): number => 10 ** (-value / 20);

function levels(entries: Record<string, number>): Map<string, number> {
  return new Map(Object.entries(entries));
}

describe("the loudest-N selection (FORWARD_LOUDEST)", () => {
  const create = () => new LoudestSelector({ slots: 2, margin: 2, holdUpdates: 3 });

  it("fills free slots at once with the loudest publishers", () => {
    const selector = create();
    expect(selector.update(levels({ a: dbov(40), b: dbov(20), c: dbov(30), d: dbov(50) }))).to.equal(true);
    expect([...selector.selected]).to.have.members(["b", "c"]);
    expect(selector.update(levels({ a: dbov(40), b: dbov(20), c: dbov(30), d: dbov(50) }))).to.equal(false);
  });

  it("lets a newcomer in only when it stays louder than the quietest by the margin", () => {
    const selector = create();
    selector.update(levels({ a: dbov(20), b: dbov(30), c: dbov(60) }));
    // c is 3 dB louder than b: not enough, however long it lasts.
    for (let i = 0; i < 10; i++) selector.update(levels({ a: dbov(20), b: dbov(30), c: dbov(27) }));
    expect([...selector.selected]).to.have.members(["a", "b"]);
    // 10 dB louder: in after three updates in a row, not before.
    selector.update(levels({ a: dbov(20), b: dbov(30), c: dbov(20) }));
    selector.update(levels({ a: dbov(20), b: dbov(30), c: dbov(20) }));
    expect(selector.has("c")).to.equal(false);
    // A dip resets the count.
    selector.update(levels({ a: dbov(20), b: dbov(30), c: dbov(40) }));
    selector.update(levels({ a: dbov(20), b: dbov(30), c: dbov(20) }));
    selector.update(levels({ a: dbov(20), b: dbov(30), c: dbov(20) }));
    expect(selector.has("c")).to.equal(false);
    expect(selector.update(levels({ a: dbov(20), b: dbov(30), c: dbov(20) }))).to.equal(true);
    expect([...selector.selected]).to.have.members(["a", "c"]);
  });

  it("replaces a forwarded publisher that fell silent at once, and drops one that left", () => {
    const selector = create();
    selector.update(levels({ a: dbov(20), b: dbov(25), c: dbov(40) }));
    selector.update(levels({ a: 0, b: dbov(25), c: dbov(40) }));
    expect([...selector.selected]).to.have.members(["b", "c"]);
    selector.update(levels({ a: 0, c: dbov(40) }));
    expect([...selector.selected]).to.have.members(["a", "c"]);
  });

  it("keeps a silent publisher forwarded while nobody louder is there", () => {
    const selector = create();
    selector.update(levels({ a: dbov(20), b: dbov(25) }));
    selector.update(levels({ a: 0, b: 0, c: 0 }));
    expect([...selector.selected]).to.have.members(["a", "b"]);
  });
});
