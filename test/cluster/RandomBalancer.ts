import { createServer, request, type Server } from "node:http";
import { connect, type AddressInfo, type Socket } from "node:net";

/**
 * The router in front of the nodes: for each TCP connection it picks a node
 * at random and sends that connection's HTTP requests and WebSocket upgrade
 * there, as a PaaS router or an L4 balancer without affinity would.
 */
export class RandomBalancer {
  readonly #server: Server;
  readonly #picks = new WeakMap<Socket, number>();
  /** How many connections went to each target port. */
  readonly counts = new Map<number, number>();

  private constructor(targets: () => number[]) {
    const pick = (socket: Socket): number => {
      let port = this.#picks.get(socket);
      if (port === undefined) {
        const ports = targets();
        port = ports[Math.floor(Math.random() * ports.length)]!;
        this.#picks.set(socket, port);
        this.counts.set(port, (this.counts.get(port) ?? 0) + 1);
      }
      return port;
    };
    this.#server = createServer((req, res) => {
      const upstream = request(
        {
          host: "127.0.0.1",
          port: pick(req.socket),
          method: req.method,
          path: req.url,
          headers: req.headers,
        },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on("error", () => res.destroy());
      req.pipe(upstream);
    });
    this.#server.on("upgrade", (req, socket: Socket, head: Buffer) => {
      const upstream = connect(pick(socket), "127.0.0.1", () => {
        const lines = [`${req.method} ${req.url} HTTP/1.1`];
        for (let i = 0; i < req.rawHeaders.length; i += 2)
          lines.push(`${req.rawHeaders[i]}: ${req.rawHeaders[i + 1]}`);
        upstream.write(`${lines.join("\r\n")}\r\n\r\n`);
        upstream.write(head);
        upstream.pipe(socket).pipe(upstream);
      });
      upstream.on("error", () => socket.destroy());
      socket.on("error", () => upstream.destroy());
    });
  }

  /** Listens on 127.0.0.1 and a free port; `targets` gives the node ports to pick from. */
  static async start(targets: () => number[]): Promise<RandomBalancer> {
    const balancer = new RandomBalancer(targets);
    await new Promise<void>((resolve) => balancer.#server.listen(0, "127.0.0.1", resolve));
    return balancer;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.#server.closeAllConnections();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}
