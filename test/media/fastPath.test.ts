import { expect } from "chai";
import type { TrackSnapshot } from "../../lib/types.js";
import { useSfu } from "../helpers/fixture.js";
import type { MediaClient } from "../helpers/MediaClient.js";
import { sleep, waitFor } from "../helpers/wait.js";

describe("the SFU's own forwarding path with werift peers", function () {
  this.timeout(60_000);
  const sfu = useSfu();
  const clients: MediaClient[] = [];

  afterEach(() => {
    clients.splice(0);
  });

  it("receives and sends every packet on it, with RTCP sender and receiver reports both ways", async () => {
    for (const userId of ["alice", "bob", "carol"]) {
      clients.push(await sfu.join("fast", userId));
    }
    for (const client of clients) client.startSending();
    for (const receiver of clients) {
      for (const source of clients) {
        if (source !== receiver) await receiver.waitForPackets(source.peerId, 50);
      }
    }

    const room = sfu.server.service.getRoom("fast")!;
    expect(room.tracks).to.have.length(3);
    for (const track of room.tracks) {
      expect(track.fastPath, "publisher's packets on the SFU's receive path").to.equal(true);
      expect(track.fastSubscribers, "both subscribers on the SFU's send path").to.equal(2);
    }

    // Reports go out about once a second.
    await sleep(2500);
    for (const client of clients) {
      const stats = client.stats.bind(client);
      for (const source of clients) {
        if (source === client) continue;
        const received = stats(source.peerId)!;
        expect(received.corrupt, `${client.options.userId} <- ${source.options.userId}`).to.equal(0);
        expect(received.seqJumps).to.equal(0);
      }
      // The SFU's sender reports reached werift's receivers and authenticated there.
      const receivers = client.pc.getTransceivers().filter((t) => t.currentDirection === "recvonly");
      expect(receivers).to.have.length(2);
      for (const transceiver of receivers) {
        const ssrc = transceiver.receiver.track.ssrc!;
        expect(transceiver.receiver.lastSRtimestamp[ssrc], `SR for ${ssrc}`).to.be.a("number").and.above(0);
      }
      // The SFU's receiver report on the client's microphone shows up as remote-inbound-rtp.
      const report = await client.pc.getStats();
      const remoteInbound = [...report.values()].filter((s) => s.type === "remote-inbound-rtp");
      expect(remoteInbound, `${client.options.userId} got receiver reports`).to.have.length(1);
    }
  });

  it("drops a replayed SRTP packet, forwards nothing for it and counts it on /debug/tracks", async () => {
    for (const userId of ["alice", "bob"]) {
      clients.push(await sfu.join("replay", userId));
    }
    const [alice, bob] = clients as [MediaClient, MediaClient];
    // Keep what alice's ICE connection sends: her SRTP packets, as they went to the SFU.
    const connection = alice.pc.dtlsTransports[0]!.iceTransport.connection;
    const sent: Buffer[] = [];
    const send = connection.send.bind(connection);
    connection.send = (data: Buffer) => {
      // RTP (RFC 5761 §4): version 2, and a second byte outside RTCP's 192-223.
      const rtp = data.length > 12 && data[0]! >> 6 === 2 && (data[1]! < 192 || data[1]! > 223);
      if (rtp) sent.push(Buffer.from(data));
      return send(data);
    };
    alice.startSending();
    await bob.waitForPackets(alice.peerId, 50);
    alice.stopSending();
    await sleep(300);
    const heard = bob.packetsFrom(alice.peerId);

    // The same packets again, from alice's own address: an attacker on her path could do this.
    for (const datagram of [sent.at(-1)!, sent.at(-1)!, sent.at(-5)!]) await send(datagram);
    const tracks = async () => {
      const response = await fetch(`${sfu.server.url}/debug/tracks`);
      const body = (await response.json()) as { tracks: TrackSnapshot[] };
      return body.tracks.find((t) => t.peerId === alice.peerId)!;
    };
    const track = await waitFor(
      async () => {
        const snapshot = await tracks();
        return snapshot.srtpReplaysDropped === 3 && snapshot;
      },
      2000,
      "three replays counted",
    );
    expect(track.srtpAuthFailures).to.equal(0);
    await sleep(300);
    expect(bob.packetsFrom(alice.peerId), "packets bob heard after the replays").to.equal(heard);
    expect(bob.stats(alice.peerId)!.corrupt).to.equal(0);
  });

  it("keeps the counters the metrics read in step with what receivers got", async () => {
    for (const userId of ["alice", "bob"]) {
      clients.push(await sfu.join("count", userId));
    }
    const [alice, bob] = clients as [MediaClient, MediaClient];
    alice.startSending();
    await bob.waitForPackets(alice.peerId, 50);
    alice.stopSending();
    await sleep(300);
    const track = sfu.server.service.getRoom("count")!.tracks.find((t) => t.peerId === alice.peerId)!;
    const snapshot = track.snapshot();
    await waitFor(
      () => bob.packetsFrom(alice.peerId) === snapshot.packetsForwarded,
      2000,
      "bob got every forward",
    );
    // Packets that arrived before bob's side was up were received but not forwarded.
    expect(snapshot.packetsReceived).to.be.at.least(snapshot.packetsForwarded);
    expect(snapshot.bytesForwarded).to.equal(snapshot.packetsForwarded * 100);
    expect(sfu.server.service.totals.packetsForwarded).to.equal(snapshot.packetsForwarded);
  });
});
