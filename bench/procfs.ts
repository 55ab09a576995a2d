/**
 * Process-tree CPU and memory from /proc (Linux). A server started through a
 * wrapper (npx, tsx) runs in child processes, so everything is summed over the
 * tree under the pid we spawned.
 */
import { readFileSync, readdirSync } from "node:fs";

const CLOCK_TICKS_PER_SECOND = 100;
const PAGE_BYTES = 4096;

interface ProcStat {
  pid: number;
  ppid: number;
  /** utime + stime, in clock ticks. */
  cpuTicks: number;
  /** stime alone: time in the kernel on the process's behalf (system calls, such as UDP sends). */
  systemTicks: number;
  rssBytes: number;
}

/** Field `n` (1-based, as in proc(5)) of a `stat` line, for n ≥ 3. */
function statFields(text: string): (n: number) => number {
  // The command name (field 2) may contain spaces and parentheses; fields after its last ")" are positional.
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  return (n) => Number(rest[n - 3]);
}

function readStat(pid: number): ProcStat | undefined {
  try {
    const field = statFields(readFileSync(`/proc/${pid}/stat`, "utf8"));
    return {
      pid,
      ppid: field(4),
      cpuTicks: field(14) + field(15),
      systemTicks: field(15),
      rssBytes: field(24) * PAGE_BYTES,
    };
  } catch {
    return undefined;
  }
}

function allStats(): ProcStat[] {
  const stats: ProcStat[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat) stats.push(stat);
  }
  return stats;
}

/** The processes in the trees rooted at `roots` (roots included), as they are now. */
function treeStats(roots: readonly number[]): ProcStat[] {
  const stats = allStats();
  const children = new Map<number, ProcStat[]>();
  for (const stat of stats) {
    const list = children.get(stat.ppid) ?? [];
    list.push(stat);
    children.set(stat.ppid, list);
  }
  const byPid = new Map(stats.map((stat) => [stat.pid, stat]));
  const out: ProcStat[] = [];
  const queue = roots.map((pid) => byPid.get(pid)).filter((stat): stat is ProcStat => stat !== undefined);
  while (queue.length > 0) {
    const stat = queue.pop()!;
    out.push(stat);
    queue.push(...(children.get(stat.pid) ?? []));
  }
  return out;
}

/** A point-in-time reading of a process tree. */
export interface TreeSample {
  /** utime + stime summed over the tree, in microseconds. */
  cpuMicros: number;
  /** The stime part of cpuMicros. */
  systemMicros: number;
  rssBytes: number;
}

export function sampleTree(roots: readonly number[]): TreeSample {
  let ticks = 0;
  let systemTicks = 0;
  let rssBytes = 0;
  for (const stat of treeStats(roots)) {
    ticks += stat.cpuTicks;
    systemTicks += stat.systemTicks;
    rssBytes += stat.rssBytes;
  }
  return {
    cpuMicros: (ticks / CLOCK_TICKS_PER_SECOND) * 1e6,
    systemMicros: (systemTicks / CLOCK_TICKS_PER_SECOND) * 1e6,
    rssBytes,
  };
}

/** CPU time all processes on the machine spent busy (not idle or iowait), in microseconds. */
export function machineBusyMicros(): number {
  const line = readFileSync("/proc/stat", "utf8").split("\n")[0] ?? "";
  // cpu  user nice system idle iowait irq softirq steal ...
  const fields = line.trim().split(/\s+/).slice(1).map(Number);
  const total = fields.slice(0, 8).reduce((sum, v) => sum + v, 0);
  const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
  return ((total - idle) / CLOCK_TICKS_PER_SECOND) * 1e6;
}

/** One thread of a process, as it is now. */
export interface ThreadReading {
  tid: number;
  /** comm: the thread's name (at most 15 bytes). Node 20 leaves every thread at "node". */
  name: string;
  /** utime + stime of this thread alone, in microseconds. */
  cpuMicros: number;
  /**
   * The kernel function the thread is blocked in (wchan), e.g. "do_epoll_wait" for an idle
   * event loop or "futex_do_wait" for a thread parked on a condition variable; "" while it
   * runs or when the kernel does not show it to us.
   */
  waitChannel: string;
}

/** A point-in-time reading of one process and each of its threads. */
export interface ThreadSample {
  pid: number;
  /** utime + stime of the whole process, threads that have already ended included. */
  cpuMicros: number;
  threads: ThreadReading[];
}

function readThread(pid: number, tid: number): ThreadReading | undefined {
  const dir = `/proc/${pid}/task/${tid}`;
  try {
    const field = statFields(readFileSync(`${dir}/stat`, "utf8"));
    const name = readFileSync(`${dir}/comm`, "utf8").trim();
    let waitChannel = "";
    try {
      const wchan = readFileSync(`${dir}/wchan`, "utf8").trim();
      // "0": running, or hidden from us (it needs ptrace read access).
      if (wchan !== "0") waitChannel = wchan;
    } catch {
      // Not offered by this kernel; classification falls back to CPU alone.
    }
    return {
      tid,
      name,
      cpuMicros: ((field(14) + field(15)) / CLOCK_TICKS_PER_SECOND) * 1e6,
      waitChannel,
    };
  } catch {
    // The thread ended between listing and reading.
    return undefined;
  }
}

/**
 * Every thread of one process (not its children: the bench starts its targets as
 * `node …` directly, so the process it spawned is the server). Undefined once the
 * process is gone.
 */
export function sampleThreads(pid: number): ThreadSample | undefined {
  const whole = readStat(pid);
  if (!whole) return undefined;
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  const threads = tids
    .map((tid) => readThread(pid, Number(tid)))
    .filter((thread): thread is ThreadReading => thread !== undefined);
  return { pid, cpuMicros: (whole.cpuTicks / CLOCK_TICKS_PER_SECOND) * 1e6, threads };
}

/**
 * Time the threads of `pid` have spent on a CPU so far, in microseconds, from
 * each thread's /proc schedstat (nanoseconds, where stat counts 10 ms ticks):
 * fine enough for the few ms per second of an idle server. A thread that ends
 * between two readings takes its time with it. Undefined once the process is gone.
 */
export function onCpuMicros(pid: number): number | undefined {
  let tids: string[];
  try {
    tids = readdirSync(`/proc/${pid}/task`);
  } catch {
    return undefined;
  }
  let nanos = 0;
  for (const tid of tids) {
    try {
      nanos += Number(readFileSync(`/proc/${pid}/task/${tid}/schedstat`, "utf8").split(" ")[0]);
    } catch {
      // The thread ended between listing and reading.
    }
  }
  return nanos / 1000;
}
