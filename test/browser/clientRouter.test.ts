import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "chai";
import express from "express";
import request from "supertest";
import { createClientRouter } from "../../server/http/client.js";

function appWith(router: express.Router): express.Express {
  const app = express();
  app.use(router);
  return app;
}

/** A package root with only the files a test writes into it. */
function fakeRoot(files: Record<string, string>): string {
  const root = mkdtempSync(join(tmpdir(), "sfu-client-router-"));
  for (const [path, body] of Object.entries(files)) {
    mkdirSync(join(root, path, ".."), { recursive: true });
    writeFileSync(join(root, path), body);
  }
  return root;
}

describe("client router (SDK bundle and demo page)", function () {
  this.timeout(30_000);
  const roots: string[] = [];

  afterEach(() => {
    for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
  });

  it("serves the demo page, its stylesheet and script, and the SDK bundle built from source", async () => {
    const app = appWith(createClientRouter({ bundle: "source" }));
    const page = await request(app).get("/").expect(200);
    expect(page.headers["content-type"]).to.match(/^text\/html/);
    expect(page.text).to.include('src="/demo.js"');
    await request(app)
      .get("/demo.css")
      .expect(200)
      .expect("content-type", /^text\/css/);
    const demo = await request(app)
      .get("/demo.js")
      .expect(200)
      .expect("content-type", /^text\/javascript/);
    // The demo loads the SDK from its served URL rather than bundling a copy.
    expect(demo.text).to.include("/sfu-client.js");
    const sdk = await request(app)
      .get("/sfu-client.js")
      .expect(200)
      .expect("content-type", /^text\/javascript/);
    expect(sdk.text.length).to.be.above(10_000);
    expect(sdk.text).to.match(/export\s*\{[^}]*\bconnect\b/);
    expect(sdk.headers["cache-control"]).to.equal("no-cache");
  });

  it("serves dist/client when it is newer than the sources", async () => {
    const root = fakeRoot({
      "package.json": "{}",
      "lib/protocol.ts": "export {};",
      "lib/client/index.ts": "export {};",
      "dist/client/sfu-client.js": "// prebuilt sdk",
      "dist/client/demo.js": "// prebuilt demo",
    });
    roots.push(root);
    const past = new Date(Date.now() - 60_000);
    for (const file of ["lib/protocol.ts", "lib/client/index.ts"]) utimesSync(join(root, file), past, past);
    const app = appWith(createClientRouter({ root }));
    const sdk = await request(app).get("/sfu-client.js").expect(200);
    expect(sdk.text).to.equal("// prebuilt sdk");
  });

  it("answers 503 naming the build command when there is no bundle and nothing to build it from", async () => {
    const root = fakeRoot({ "package.json": "{}" });
    roots.push(root);
    const app = appWith(createClientRouter({ root, bundle: "dist" }));
    const sdk = await request(app).get("/sfu-client.js").expect(503);
    expect(sdk.text).to.include("npm run build:client");
    const page = await request(app).get("/").expect(503);
    expect(page.text).to.include("demo page is missing");
  });
});
