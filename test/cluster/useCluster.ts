import { existsSync } from "node:fs";
import { MediaClient, type MediaClientOptions } from "../helpers/MediaClient.js";
import { waitFor } from "../helpers/wait.js";
import { REDIS_SERVER, RedisServer } from "../helpers/RedisServer.js";
import { CLUSTER_ADMIN_TOKEN, SfuNode } from "./SfuNode.js";

export interface NodeRow {
  nodeId: string;
  rooms: number;
  peers: number;
  load: number;
  lastSeen: number;
}

export interface ClusterFixture {
  redis: RedisServer;
  nodes: SfuNode[];
  clients: MediaClient[];
  /** Starts node `index` again under its NODE_ID (after a kill), and waits until every node sees it. */
  restart(index: number): Promise<SfuNode>;
  join(
    node: SfuNode,
    roomId: string,
    userId: string,
    options?: Partial<MediaClientOptions>,
  ): Promise<MediaClient>;
  /** Waits until every live node lists exactly the live nodes, each heard from after `since` (Unix ms). */
  settled(since?: number): Promise<void>;
  /** The node where the room's media lives, as `/debug/rooms` on `asked` says. */
  ownerOf(roomId: string, asked?: SfuNode): Promise<SfuNode>;
}

/** Node env shared by the cluster tests: a small room limit, so that it can be reached across nodes. */
export const CLUSTER_ENV = { MAX_PEERS_PER_ROOM: "4", ADMIN_TOKEN: CLUSTER_ADMIN_TOKEN };

/**
 * A real redis-server and three SFU node processes (node-a, node-b, node-c)
 * for the suite; the clients a test joins are closed after it.
 */
export function useCluster(): ClusterFixture {
  const base = 30_000 + Math.floor(Math.random() * 200) * 100;
  const ranges: Array<[number, number]> = [0, 1, 2].map((i) => [base + i * 30, base + i * 30 + 29]);
  const names = ["node-a", "node-b", "node-c"];
  const fixture: ClusterFixture = {
    redis: undefined as unknown as RedisServer,
    nodes: [],
    clients: [],
    async restart(index) {
      const node = await SfuNode.start({
        nodeId: names[index]!,
        redisUrl: fixture.redis.url,
        mediaPorts: ranges[index]!,
        env: CLUSTER_ENV,
      });
      fixture.nodes[index] = node;
      await fixture.settled();
      return node;
    },
    async join(node, roomId, userId, options) {
      const client = await MediaClient.join(node.url, { ...options, roomId, userId });
      fixture.clients.push(client);
      return client;
    },
    async ownerOf(roomId, asked) {
      const via = asked ?? fixture.nodes.find((node) => node.alive)!;
      const { body } = await via.get<{ rooms: Array<{ roomId: string; nodeId: string }> }>("/debug/rooms");
      const nodeId = body.rooms.find((room) => room.roomId === roomId)?.nodeId;
      const owner = fixture.nodes.find((node) => node.nodeId === nodeId);
      if (!owner) throw new Error(`room ${roomId} is not placed (rows: ${JSON.stringify(body.rooms)})`);
      return owner;
    },
    async settled(since = 0) {
      const live = fixture.nodes.filter((node) => node.alive);
      const want = live.map((node) => node.nodeId).sort();
      await waitFor(
        async () => {
          for (const node of live) {
            const { body } = await node.get<{ nodes: NodeRow[] }>("/debug/nodes");
            const seen = body.nodes.map((row) => row.nodeId).sort();
            if (JSON.stringify(seen) !== JSON.stringify(want)) return false;
            if (body.nodes.some((row) => row.lastSeen < since)) return false;
          }
          return true;
        },
        15_000,
        `every node to see ${want.join(", ")}`,
      );
    },
  };

  before(async function () {
    this.timeout(90_000);
    if (!existsSync(REDIS_SERVER)) {
      // CI installs it (.ci/run); there a missing Redis is a failure, not a skip.
      if (process.env.CI)
        throw new Error(`${REDIS_SERVER} is absent; install it with: apt-get install -y redis-server`);
      console.log(
        `    skipping: ${REDIS_SERVER} is absent (install it with: apt-get install -y redis-server)`,
      );
      this.skip();
    }
    fixture.redis = await RedisServer.start();
    fixture.nodes = await Promise.all(
      names.map((nodeId, i) =>
        SfuNode.start({ nodeId, redisUrl: fixture.redis.url, mediaPorts: ranges[i]!, env: CLUSTER_ENV }),
      ),
    );
    await fixture.settled();
  });

  afterEach(async () => {
    // Leaving (rather than only disconnecting) frees each room at once, so the next test starts from empty nodes.
    await Promise.all(
      fixture.clients.splice(0).map(async (client) => {
        if (client.signaling.socket.connected)
          await client.signaling
            .request("leave", { roomId: client.options.roomId }, 2000)
            .catch(() => undefined);
        await client.close();
      }),
    );
  });

  after(async function () {
    this.timeout(30_000);
    await Promise.all(fixture.nodes.map((node) => node.kill("SIGKILL")));
    await fixture.redis?.stop();
  });

  return fixture;
}
