/**
 * A child process holding many MediaClients, so that a test's SFU runs in an
 * event loop of its own as in production: in one process, 50 client sockets
 * would each get a share of the loop's reads (libuv reads at most 32
 * datagrams per socket per loop iteration) against one for the SFU's shared
 * port. Driven by {@link FleetCommand} messages over the IPC channel.
 */
import { MediaClient } from "../helpers/MediaClient.js";

export type FleetCommand =
  | { cmd: "join"; url: string; rooms: string[]; perRoom: number }
  | { cmd: "send" }
  | { cmd: "await-streams"; packets: number; timeoutMs: number }
  | { cmd: "close" };

/** What a receiver got from one source. */
export interface StreamReport {
  receiver: string;
  source: string;
  corrupt: number;
  sources: string[];
}

/** Each client's selected pair: its own port and the SFU's. */
export interface PairReport {
  userId: string;
  localPort: number;
  remotePort: number;
}

export type FleetReply =
  | { cmd: "join"; ok: true }
  | { cmd: "send"; ok: true }
  | { cmd: "await-streams"; ok: true; streams: StreamReport[]; pairs: PairReport[] }
  | { cmd: "close"; ok: true }
  | { cmd: FleetCommand["cmd"]; ok: false; error: string };

const rooms = new Map<string, MediaClient[]>();

async function run(command: FleetCommand): Promise<FleetReply> {
  switch (command.cmd) {
    case "join":
      await Promise.all(
        command.rooms.map(async (room) => {
          const joined: MediaClient[] = [];
          rooms.set(room, joined);
          for (let i = 0; i < command.perRoom; i++)
            joined.push(await MediaClient.join(command.url, { roomId: room, userId: `${room}-u${i}` }));
        }),
      );
      return { cmd: "join", ok: true };
    case "send":
      for (const client of all()) client.startSending();
      return { cmd: "send", ok: true };
    case "await-streams": {
      const streams: StreamReport[] = [];
      for (const members of rooms.values()) {
        await Promise.all(
          members.map(async (receiver) => {
            for (const source of members) {
              if (source === receiver) continue;
              await receiver.waitForPackets(source.peerId, command.packets, command.timeoutMs);
              const stats = receiver.stats(source.peerId)!;
              streams.push({
                receiver: receiver.options.userId,
                source: source.options.userId,
                corrupt: stats.corrupt,
                sources: [...stats.sources],
              });
            }
          }),
        );
      }
      const pairs = all().map((client) => {
        const pair = client.pc.iceTransports[0]!.connection.nominated!;
        return {
          userId: client.options.userId,
          localPort: pair.localCandidate.port,
          remotePort: pair.remoteAddr[1],
        };
      });
      return { cmd: "await-streams", ok: true, streams, pairs };
    }
    case "close":
      await Promise.all(all().map((client) => client.close()));
      return { cmd: "close", ok: true };
  }
}

function all(): MediaClient[] {
  return [...rooms.values()].flat();
}

process.on("message", (command: FleetCommand) => {
  void run(command)
    .catch((error: unknown): FleetReply => ({ cmd: command.cmd, ok: false, error: String(error) }))
    .then((reply) => {
      if (process.connected) process.send!(reply);
      if (command.cmd === "close") process.disconnect();
    });
});
// The test process went away: so do the clients.
process.on("disconnect", () => process.exit(0));
