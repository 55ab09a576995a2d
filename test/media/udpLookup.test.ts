import { createSocket, type Socket } from "node:dgram";
import { lookup as dnsLookup, type LookupOneOptions } from "node:dns";
import { expect } from "chai";
import { skipLookupForIpLiterals } from "../../lib/media/udpLookup.js";

type Lookup = (hostname: string, options: LookupOneOptions, callback: (...args: unknown[]) => void) => void;

describe("skipLookupForIpLiterals", () => {
  const sockets: Socket[] = [];
  afterEach(() => {
    for (const socket of sockets.splice(0)) socket.close();
  });

  async function bound(type: "udp4" | "udp6", host: string, lookup?: Lookup): Promise<Socket> {
    const socket = createSocket({ type, lookup: lookup as never });
    sockets.push(socket);
    await new Promise<void>((resolve) => socket.bind(0, host, resolve));
    return socket;
  }

  function received(socket: Socket): Promise<Buffer> {
    return new Promise((resolve) => socket.once("message", (data) => resolve(data)));
  }

  /** A lookup that counts its calls and answers as dns.lookup would. */
  function countingLookup(): { lookup: Lookup; names: string[] } {
    const names: string[] = [];
    const lookup: Lookup = (hostname, options, callback) => {
      names.push(hostname);
      dnsLookup(hostname, options, callback);
    };
    return { lookup, names };
  }

  it("sends to an IPv4 literal without the socket's lookup, and still delivers", async () => {
    const { lookup, names } = countingLookup();
    const sender = await bound("udp4", "127.0.0.1", lookup);
    const receiver = await bound("udp4", "127.0.0.1");
    names.length = 0; // bind looked its address up
    expect(skipLookupForIpLiterals(sender), "Node moved dgram's kStateSymbol handle.lookup").to.equal(true);
    const arrived = received(receiver);
    sender.send(Buffer.from("literal"), receiver.address().port, "127.0.0.1");
    expect((await arrived).toString()).to.equal("literal");
    expect(names).to.deep.equal([]);
  });

  it("sends to an IPv6 literal without the lookup", async function () {
    const { lookup, names } = countingLookup();
    let sender: Socket;
    let receiver: Socket;
    try {
      sender = await bound("udp6", "::1", lookup);
      receiver = await bound("udp6", "::1");
    } catch {
      this.skip(); // no IPv6 loopback on this host
    }
    names.length = 0;
    expect(skipLookupForIpLiterals(sender)).to.equal(true);
    const arrived = received(receiver);
    sender.send(Buffer.from("six"), receiver.address().port, "::1");
    expect((await arrived).toString()).to.equal("six");
    expect(names).to.deep.equal([]);
  });

  it("still resolves a name through the socket's own lookup", async () => {
    const { lookup, names } = countingLookup();
    const sender = await bound("udp4", "127.0.0.1", lookup);
    const receiver = await bound("udp4", "127.0.0.1");
    names.length = 0;
    expect(skipLookupForIpLiterals(sender)).to.equal(true);
    expect(skipLookupForIpLiterals(sender), "idempotent").to.equal(true);
    const port = receiver.address().port;
    // A literal, then a name, then the literal again: only the name is looked up.
    for (const [text, host] of [
      ["first", "127.0.0.1"],
      ["name", "localhost"],
      ["again", "127.0.0.1"],
    ]) {
      const arrived = received(receiver);
      sender.send(Buffer.from(text!), port, host);
      expect((await arrived).toString()).to.equal(text);
    }
    expect(names).to.deep.equal(["localhost"]);
  });

  it("changes nothing on a closed socket", async () => {
    const sender = await bound("udp4", "127.0.0.1");
    sockets.splice(sockets.indexOf(sender), 1);
    sender.close();
    expect(skipLookupForIpLiterals(sender)).to.equal(false);
  });
});
