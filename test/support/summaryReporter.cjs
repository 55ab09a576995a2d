// Mocha's spec reporter, closed by one plain line that any CI can read:
// "N passed, N failed, N skipped", with nothing before the counts.
const { reporters, Runner } = require("mocha");

class SpecWithSummary extends reporters.Spec {
  constructor(runner, options) {
    super(runner, options);
    runner.once(Runner.constants.EVENT_RUN_END, () => {
      const { passes, failures, pending } = this.stats;
      console.log(`${passes} passed, ${failures} failed, ${pending} skipped`);
    });
  }
}

module.exports = SpecWithSummary;
