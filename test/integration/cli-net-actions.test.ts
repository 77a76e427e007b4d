// src/cli/net/actions.ts: `vnat net list` shows only networks with vnat's metadata (libvirt's
// others are not vnat's business); `vnat net delete` undefines a vnat network and refuses
// anything else in one line. Real libvirt, temp VNAT_* roots.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { netCreate } from "../../src/cli/net/create.ts";
import { netDelete, netList } from "../../src/cli/net/actions.ts";
import { VnatError } from "../../src/core/errors.ts";
import { capture } from "../support/cli.ts";
import { cliHost, virshSync, type CliHost } from "../support/cli-host.ts";

let h: CliHost;
let vnatNet: string;
let vnatBridge: string;
let net3: string;
let plain: string;
before(async () => {
  h = await cliHost();
  vnatNet = h.track(h.name("va"));
  vnatBridge = h.name("vb");
  net3 = h.subnet();
  const c = await capture(() =>
    netCreate(vnatNet, { subnet: `${net3}.0/24`, provider: h.provider, uplink: "198.51.100.12", bridge: vnatBridge }),
  );
  assert.equal(c.error, undefined, String(c.error));
  plain = h.name("vl");
  h.definePlain(plain, h.name("vb"), h.subnet());
});
after(() => h.close());

test("list --json: the vnat network with its state, bridge, addresses and provider; no plain network", async () => {
  const r = await capture(() => netList({ json: true }));
  assert.equal(r.error, undefined, String(r.error));
  const rows = JSON.parse(r.out) as Array<Record<string, unknown>>;
  assert.deepEqual(
    rows.find((n) => n.name === vnatNet),
    {
      name: vnatNet,
      state: "inactive",
      autostart: false,
      persistent: true,
      bridge: vnatBridge,
      lan: `${net3}.1/24`,
      uplink: "198.51.100.12/24",
      provider: h.provider,
    },
  );
  assert.ok(!rows.some((n) => n.name === plain), "a libvirt network without vnat metadata is not listed");
});

test("list: a table with the vnat network's row", async () => {
  const r = await capture(() => netList({}));
  const lines = r.out.trimEnd().split("\n");
  assert.match(lines[0]!, /^NAME\s+STATE\s+AUTOSTART\s+BRIDGE\s+LAN\s+UPLINK\s+PROVIDER$/);
  const row = lines.find((l) => l.startsWith(`${vnatNet} `));
  assert.ok(row, r.out);
  assert.deepEqual(row.split(/\s+/), [
    vnatNet,
    "inactive",
    "no",
    vnatBridge,
    `${net3}.1/24`,
    "198.51.100.12/24",
    h.provider,
  ]);
  assert.ok(!r.out.includes(plain));
});

test("delete refuses, in one line, a network libvirt does not have and one without vnat metadata", async () => {
  const missing = await capture(() => netDelete("vtnosuchnet", {}));
  assert.ok(missing.error instanceof VnatError);
  assert.equal(missing.error.kind, "invalid-input");
  assert.equal(missing.error.message, 'network "vtnosuchnet": not defined in libvirt (see vnat net list)');
  const other = await capture(() => netDelete(plain, {}));
  assert.ok(other.error instanceof VnatError);
  assert.equal(other.error.message, `network "${plain}": not a vnat network (no vnat metadata); vnat leaves it alone`);
  assert.equal(virshSync(["net-info", plain]).status, 0, "still defined");
});

test("delete: an inactive vnat network is undefined; --json says so", async () => {
  const r = await capture(() => netDelete(vnatNet, { json: true }));
  assert.equal(r.error, undefined, String(r.error));
  assert.deepEqual(JSON.parse(r.out), { network: vnatNet, deleted: true, stopped: false });
  assert.notEqual(virshSync(["net-info", vnatNet]).status, 0, "no longer defined");
  const again = await capture(() => netDelete(vnatNet, {}));
  assert.ok(again.error instanceof VnatError);
});
