import { COTURN_READY_TIMEOUT_MS, startCoturn, type Coturn } from "./coturnServer.js";

export { startCoturn, type Coturn };

/** Registers mocha hooks that start coturn before the suite and stop it after, also when a test failed. */
export function useCoturn(options: { tls?: boolean } = {}): { readonly turn: Coturn } {
  let turn: Coturn | undefined;
  before(async function () {
    this.timeout(COTURN_READY_TIMEOUT_MS + 5_000);
    turn = await startCoturn(options);
  });
  after(async () => {
    await turn?.stop();
  });
  return {
    get turn() {
      if (!turn) throw new Error("coturn is not running");
      return turn;
    },
  };
}
