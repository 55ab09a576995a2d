import { TimeoutError } from "../errors.js";

/**
 * Settles with `promise`, or rejects with a {@link TimeoutError} after `ms`.
 * werift can leave a negotiation step pending forever on some malformed SDP,
 * so every such step goes through here.
 */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
