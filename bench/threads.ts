/**
 * Per-thread CPU of a server process over a measurement window: which thread
 * is the main one, which ones forward, and the rest.
 *
 * Node 20 names every thread of the process "node" (main thread, worker_threads,
 * libuv's pool, V8's platform threads alike; checked on v20.20 by reading
 * /proc/<pid>/task/<tid>/comm), and it does not tell other processes a worker's
 * thread id. So the threads are told apart by what they do:
 *
 * - the main thread is the thread-group leader: its tid is the pid;
 * - a thread seen blocked in epoll (wchan "do_epoll_wait", "ep_poll") runs an
 *   event loop: the main thread, worker_threads (the forwarding workers, and under
 *   tsx its loader-hook threads), and the platform's delayed-task scheduler;
 * - a thread seen blocked on a futex and never in epoll is a helper parked on a
 *   condition variable: V8's platform threads (GC, compilation), libuv's pool;
 * - the forwarding threads are the `forwardingThreads` busiest non-main threads
 *   over the window that are not helpers. Loader hooks and the scheduler idle
 *   once the server is up, so CPU separates them from the workers; excluding
 *   the helpers keeps a GC-busy V8 thread from passing for a lightly loaded worker.
 *
 * An idle server is read before any load, when every event loop sits in epoll,
 * so the threads that exist by then are classified reliably. Where the kernel
 * hides wchan, no thread counts as a helper and the busiest threads are taken.
 */
import { sampleThreads, type ThreadSample } from "./procfs.js";
import type { ThreadCpu } from "./results.js";

const EVENT_LOOP_WAIT = /epoll|ep_poll/;
const FUTEX_WAIT = /futex/;

export class ThreadMeter {
  readonly #pid: number;
  readonly #forwardingThreads: number;
  /** Threads ever seen waiting in epoll, and ever seen waiting on a futex. */
  readonly #seenInEpoll = new Set<number>();
  readonly #seenOnFutex = new Set<number>();

  /** `forwardingThreads`: how many worker threads the server forwards in (0: the main thread does). */
  constructor(pid: number, forwardingThreads: number) {
    this.#pid = pid;
    this.#forwardingThreads = forwardingThreads;
  }

  /** Reads every thread now, and remembers what each was waiting in. */
  sample(): ThreadSample | undefined {
    const sample = sampleThreads(this.#pid);
    for (const thread of sample?.threads ?? []) {
      if (EVENT_LOOP_WAIT.test(thread.waitChannel)) this.#seenInEpoll.add(thread.tid);
      else if (FUTEX_WAIT.test(thread.waitChannel)) this.#seenOnFutex.add(thread.tid);
    }
    return sample;
  }

  /** CPU by thread between two samples, in % of one core over `windowMicros`. */
  cpuBetween(before: ThreadSample, after: ThreadSample, windowMicros: number): ThreadCpu {
    const start = new Map(before.threads.map((thread) => [thread.tid, thread.cpuMicros]));
    // A thread started inside the window had used nothing before it.
    const used = after.threads.map((thread) => ({
      tid: thread.tid,
      micros: Math.max(0, thread.cpuMicros - (start.get(thread.tid) ?? 0)),
    }));
    const main = used.find((thread) => thread.tid === this.#pid)?.micros ?? 0;
    const forwarding = used
      .filter((thread) => thread.tid !== this.#pid && !this.#isHelper(thread.tid))
      .sort((a, b) => b.micros - a.micros)
      .slice(0, this.#forwardingThreads)
      .map((thread) => thread.micros);
    // The rest from the process total, so that threads which ended in the window count too.
    const rest = Math.max(
      0,
      after.cpuMicros - before.cpuMicros - main - forwarding.reduce((sum, micros) => sum + micros, 0),
    );
    const percent = (micros: number): number => (micros / windowMicros) * 100;
    return {
      mainPercent: percent(main),
      forwardingPercent: forwarding.map(percent),
      restPercent: percent(rest),
      threads: after.threads.length,
    };
  }

  #isHelper(tid: number): boolean {
    return this.#seenOnFutex.has(tid) && !this.#seenInEpoll.has(tid);
  }
}
