// src/cli/net/show.ts: `vnat net show NET` against the real libvirt: a defined, stopped vnat
// network's configuration beside nothing running; refusals for what is not a vnat network.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { netCreate } from "../../src/cli/net/create.ts";
import { netShow } from "../../src/cli/net/show.ts";
import { VnatError } from "../../src/core/errors.ts";
import { capture } from "../support/cli.ts";
import { cliHost, type CliHost } from "../support/cli-host.ts";

let h: CliHost;
let name: string;
let bridge: string;
let net3: string;
before(async () => {
  h = await cliHost();
  name = h.track(h.name("vs"));
  bridge = h.name("vb");
  net3 = h.subnet();
  const c = await capture(() =>
    netCreate(name, {
      subnet: `${net3}.0/24`,
      provider: h.provider,
      uplink: "198.51.100.14",
      bridge,
      dns: ["198.51.100.53"],
    }),
  );
  assert.equal(c.error, undefined, String(c.error));
});
after(() => h.close());

test("--json: the configuration as a start would build it; stopped, nothing running", async () => {
  const r = await capture(() => netShow(name, { json: true }));
  assert.equal(r.error, undefined, String(r.error));
  const doc = JSON.parse(r.out) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  assert.equal(doc.name, name);
  assert.deepEqual(doc.libvirt, { active: false, autostart: false, persistent: true });
  assert.equal(doc.health, "stopped");
  assert.equal(doc.configured.subnet, `${net3}.0/24`);
  assert.equal(doc.configured.gateway, `${net3}.1`);
  assert.equal(doc.configured.bridge, bridge);
  assert.equal(doc.configured.provider, h.provider);
  assert.deepEqual(doc.configured.uplink, { address: "198.51.100.14/24", gateway: "198.51.100.1" });
  assert.deepEqual(doc.configured.dns, ["198.51.100.53"]);
});

test("text: the same network in readable lines", async () => {
  const r = await capture(() => netShow(name, {}));
  assert.equal(r.error, undefined, String(r.error));
  assert.match(r.out, new RegExp(name));
  assert.match(r.out, new RegExp(`${net3.replace(/\./g, "\\.")}\\.0/24`));
  assert.match(r.out, /198\.51\.100\.14/);
  assert.doesNotMatch(r.out, /^\{/);
});

test("refusals in one line: not in libvirt; without vnat metadata; not root", async () => {
  const missing = await capture(() => netShow("vtnosuchnet", {}));
  assert.ok(missing.error instanceof VnatError);
  assert.equal(missing.error.message, 'network "vtnosuchnet": not defined in libvirt (see vnat net list)');
  const plain = h.name("vl");
  h.definePlain(plain, h.name("vb"), h.subnet());
  const other = await capture(() => netShow(plain, {}));
  assert.ok(other.error instanceof VnatError);
  assert.equal(other.error.message, `network "${plain}": not a vnat network (no vnat metadata)`);
  const real = process.getuid;
  process.getuid = () => 1000;
  try {
    await assert.rejects(netShow(name, {}), (e: unknown) => e instanceof VnatError && e.kind === "needs-root");
  } finally {
    process.getuid = real;
  }
});
