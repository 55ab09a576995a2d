import { existsSync } from "node:fs";
import { expect } from "chai";
import { expectAllHear } from "../helpers/hear.js";
import { MediaClient } from "../helpers/MediaClient.js";
import { freeUdpPort, processUdpPorts } from "../helpers/udpSockets.js";
import { waitFor } from "../helpers/wait.js";
import { REDIS_SERVER, RedisServer } from "../helpers/RedisServer.js";
import { SfuNode } from "./SfuNode.js";
import { CLUSTER_ENV, type NodeRow } from "./useCluster.js";

/** The port of every `a=candidate` line in an SDP. */
function candidatePorts(sdp: string): number[] {
  return (sdp.match(/^a=candidate:.*$/gm) ?? []).map((line) => Number(line.split(" ")[5]));
}

describe("one UDP port per node in a cluster (ICE_UDP_PORT with REDIS_URL)", function () {
  this.timeout(90_000);
  let redis: RedisServer | undefined;
  const nodes: SfuNode[] = [];
  const ports: number[] = [];
  const clients: MediaClient[] = [];

  before(async function () {
    if (!existsSync(REDIS_SERVER)) {
      if (process.env.CI)
        throw new Error(`${REDIS_SERVER} is absent; install it with: apt-get install -y redis-server`);
      this.skip();
    }
    redis = await RedisServer.start();
    for (const nodeId of ["node-a", "node-b"]) {
      const port = await freeUdpPort();
      ports.push(port);
      nodes.push(
        await SfuNode.start({
          nodeId,
          redisUrl: redis.url,
          env: { ...CLUSTER_ENV, ICE_UDP_PORT: String(port) },
        }),
      );
    }
    await waitFor(
      async () => {
        for (const node of nodes) {
          const { body } = await node.get<{ nodes: NodeRow[] }>("/debug/nodes");
          if (body.nodes.length !== nodes.length) return false;
        }
        return true;
      },
      15_000,
      "both nodes to see each other",
    );
  });

  after(async function () {
    this.timeout(30_000);
    await Promise.all(clients.splice(0).map((client) => client.close()));
    await Promise.all(nodes.map((node) => node.kill("SIGTERM")));
    await redis?.stop();
  });

  it("carries a room's audio on the port of the node its media lives on, each node holding one UDP socket on its own port", async () => {
    const alice = await MediaClient.join(nodes[0]!.url, { roomId: "one-port-cluster", userId: "alice" });
    clients.push(alice);
    const bob = await MediaClient.join(nodes[1]!.url, { roomId: "one-port-cluster", userId: "bob" });
    clients.push(bob);
    await expectAllHear([alice, bob]);

    const { body } = await nodes[0]!.get<{ rooms: Array<{ roomId: string; nodeId: string }> }>(
      "/debug/rooms",
    );
    const owner = body.rooms.find((room) => room.roomId === "one-port-cluster")?.nodeId;
    const ownerPort = ports[nodes.findIndex((node) => node.nodeId === owner)];
    expect(ownerPort, `the room's node (${owner})`).to.be.a("number");
    // Both clients, whichever node their socket is on, were answered with the room's node's one port.
    for (const client of [alice, bob]) {
      const answered = client.signaling.events("answer").flatMap((answer) => candidatePorts(answer.sdp));
      const trickled = client.signaling.events("ice-candidate").map((c) => Number(c.candidate.split(" ")[5]));
      expect([...answered, ...trickled], `${client.options.userId}'s SFU candidates`).to.not.be.empty;
      expect(new Set([...answered, ...trickled])).to.deep.equal(new Set([ownerPort]));
    }
    for (const [i, node] of nodes.entries()) {
      expect(processUdpPorts(node.pid), `${node.nodeId}'s UDP sockets`).to.deep.equal([ports[i]]);
    }
  });
});
