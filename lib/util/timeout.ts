import { TimeoutError } from "../errors.js";

/**
 * Settles with `promise`, or rejects with a {@link TimeoutError} after `ms`,
 * or with `signal`'s reason as soon as it aborts. werift can leave a
 * negotiation step pending forever on some malformed SDP, so every such step
 * goes through here; the signal lets an owner that closes end its pending
 * steps at once instead of holding their timers until they run out.
 */
export async function withTimeout<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
  signal?: AbortSignal,
): Promise<T> {
  signal?.throwIfAborted();
  let timer: NodeJS.Timeout | undefined;
  let onAbort: (() => void) | undefined;
  const bound = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimeoutError(what, ms)), ms);
    onAbort = () => {
      const reason: unknown = signal?.reason;
      reject(reason instanceof Error ? reason : new Error(`${what} aborted: ${String(reason)}`));
    };
    signal?.addEventListener("abort", onAbort, { once: true });
  });
  try {
    return await Promise.race([promise, bound]);
  } finally {
    clearTimeout(timer);
    if (onAbort) signal?.removeEventListener("abort", onAbort);
  }
}
