import { expect } from "chai";
import { SpeechMeter, type SpeechRule } from "../../lib/sfu/SpeechMeter.js";

/** The default rule: louder than -35 dBov in 40 % of the window to start, 20 % to stay. */
const RULE: SpeechRule = { thresholdDbov: 35, startShare: 0.4, holdShare: 0.2 };
/** 400 ms window read every 100 ms: 4 ticks of 5 packets (20 ms Opus frames). */
const SLOTS = 4;
const PACKETS_PER_TICK = 5;

/** Feeds one tick of packets at the given levels (-dBov), then closes the tick. */
function tick(meter: SpeechMeter, levels: number[]): void {
  for (const level of levels) meter.observe(0x80 | level);
  meter.tick(RULE);
}

const steady = (level: number) => Array<number>(PACKETS_PER_TICK).fill(level);

describe("SpeechMeter: the speaking rule of one publisher", () => {
  it("does not start a speaker on a cough: one loud packet among silent ones", () => {
    const meter = new SpeechMeter(SLOTS);
    for (let i = 0; i < 8; i++) {
      tick(meter, i === 3 ? [10, 127, 127, 127, 127] : steady(127));
      expect(meter.speaking, `tick ${i}`).to.equal(false);
    }
  });

  it("starts a speaker after 40 % of the window and reports the smoothed level as amplitude", () => {
    const meter = new SpeechMeter(SLOTS);
    for (let i = 0; i < SLOTS; i++) tick(meter, steady(127));
    tick(meter, steady(20));
    expect(meter.speaking, "25 % of the window").to.equal(false);
    tick(meter, steady(20));
    expect(meter.speaking, "50 % of the window").to.equal(true);
    expect(meter.level).to.be.closeTo(10 ** (-20 / 20), 1e-9);
  });

  it("keeps a speaker through a pause between words, and drops one who stopped", () => {
    const meter = new SpeechMeter(SLOTS);
    for (let i = 0; i < SLOTS; i++) tick(meter, steady(15));
    expect(meter.speaking).to.equal(true);
    // 200 ms of pause: half the window still loud.
    tick(meter, steady(127));
    tick(meter, steady(127));
    expect(meter.speaking, "a 200 ms pause").to.equal(true);
    tick(meter, steady(15));
    tick(meter, steady(127));
    tick(meter, steady(127));
    tick(meter, steady(127));
    expect(meter.speaking, "25 % loud still holds (hysteresis)").to.equal(true);
    tick(meter, steady(127));
    expect(meter.speaking, "silent window").to.equal(false);
    expect(meter.level).to.be.closeTo(10 ** (-127 / 20), 1e-9);
  });

  it("never lists a publisher quieter than the threshold, nor one without levels", () => {
    const quiet = new SpeechMeter(SLOTS);
    const none = new SpeechMeter(SLOTS);
    for (let i = 0; i < 8; i++) {
      tick(quiet, steady(36));
      for (let p = 0; p < PACKETS_PER_TICK; p++) none.observe(-1);
      none.tick(RULE);
    }
    expect(quiet.speaking).to.equal(false);
    expect(none).to.include({ speaking: false, level: 0 });
  });

  it("ignores the V bit and forgets everything on reset", () => {
    const meter = new SpeechMeter(SLOTS);
    for (let i = 0; i < SLOTS; i++) {
      for (let p = 0; p < PACKETS_PER_TICK; p++) meter.observe(10);
      meter.tick(RULE);
    }
    expect(meter.speaking, "without the V bit").to.equal(true);
    meter.reset();
    expect(meter).to.include({ speaking: false, level: 0 });
    meter.tick(RULE);
    expect(meter.speaking).to.equal(false);
  });
});
