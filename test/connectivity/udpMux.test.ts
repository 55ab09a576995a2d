import { createSocket } from "node:dgram";
import { expect } from "chai";
import type { Address } from "werift";
import { createSilentLogger } from "../../lib/logger.js";
import { UdpMux } from "../../lib/sfu/UdpMux.js";
import { bindingRequest } from "../hardening/stun.js";
import { waitFor } from "../helpers/wait.js";

describe("the shared UDP socket's demultiplexer", () => {
  it("tells apart two connections with the same ufrag by their passwords, and routes each one's address to it", async () => {
    const mux = new UdpMux({ family: 4, port: 0, bindAddress: "127.0.0.1", logger: createSilentLogger() });
    const clients = [createSocket("udp4"), createSocket("udp4")];
    try {
      // werift's ufrags are four hex digits: at a few hundred peers, two share one.
      const passwords = ["aaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbb"];
      const received: Array<Array<[Buffer, Address]>> = [[], []];
      const transports = await Promise.all(
        passwords.map((password) =>
          mux.createTransport((ufrag) => (ufrag === "abcd" ? password : undefined)),
        ),
      );
      transports.forEach((transport, i) => {
        transport.onData = (data, addr) => received[i]!.push([data, addr]);
        transport.addUfrags(["abcd"]);
      });
      for (const client of clients)
        await new Promise<void>((resolve) => client.bind(0, "127.0.0.1", resolve));
      const port = mux.address.port;
      const send = (i: number, data: Buffer) =>
        new Promise<void>((resolve) => clients[i]!.send(data, port, "127.0.0.1", () => resolve()));

      await send(1, bindingRequest({ username: "abcd:x", password: passwords[1]!, controlling: 1n }));
      await send(0, bindingRequest({ username: "abcd:y", password: passwords[0]!, controlling: 1n }));
      await waitFor(() => received[0]!.length === 1 && received[1]!.length === 1, 2_000, "both requests");
      // From now on each client's address is known: media goes where its STUN went.
      await send(0, Buffer.from([0x80, 111, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1]));
      await send(1, Buffer.from([0x80, 111, 0, 2, 0, 0, 0, 0, 0, 0, 0, 2]));
      await waitFor(
        () => received[0]!.length === 2 && received[1]!.length === 2,
        2_000,
        "both media packets",
      );
      expect(received[0]![1]![1]).to.deep.equal(["127.0.0.1", clients[0]!.address().port]);
      expect(received[1]![1]![1]).to.deep.equal(["127.0.0.1", clients[1]!.address().port]);
      expect(mux.stats).to.include({ transports: 2, ufrags: 1, addresses: 2, dropped: 0 });

      await transports[0]!.close();
      expect(mux.stats).to.include({ transports: 1, ufrags: 1, addresses: 1 });
      await send(0, Buffer.from([0x80, 111, 0, 3, 0, 0, 0, 0, 0, 0, 0, 1]));
      await waitFor(() => mux.stats.dropped === 1, 2_000, "the closed connection's media to be dropped");
      await transports[1]!.close();
      expect(mux.stats).to.include({ transports: 0, ufrags: 0, addresses: 0 });
    } finally {
      for (const client of clients) client.close();
      await mux.close();
    }
  });
});
