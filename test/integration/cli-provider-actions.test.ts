// src/cli/provider/actions.ts: provider add, list and remove on a config file in a temp dir
// (VNAT_CONFIG), through the locked config store; remove is refused while a vnat network in
// libvirt (real) uses the provider, unless --force.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { providerAdd, providerList, providerRemove } from "../../src/cli/provider/actions.ts";
import { netCreate } from "../../src/cli/net/create.ts";
import { VnatError } from "../../src/core/errors.ts";
import { capture } from "../support/cli.ts";
import { cliHost, PROVIDER_GATEWAY, PROVIDER_POOL, type CliHost } from "../support/cli-host.ts";

let h: CliHost;
before(async () => (h = await cliHost()));
after(() => h.close());

const file = () => JSON.parse(readFileSync(h.roots.config, "utf8")) as { providers: Array<Record<string, unknown>> };

test("add: the entry is in the file, said in one line (or one JSON object)", async () => {
  const r = await capture(() =>
    providerAdd("vtpadd1", { gateway: "198.51.100.1", dns: ["198.51.100.53"], attach: "veth" }),
  );
  assert.equal(r.error, undefined, String(r.error));
  assert.equal(r.out, `added provider "vtpadd1" to ${h.roots.config}\n`);
  assert.deepEqual(
    file().providers.find((p) => p.bridge === "vtpadd1"),
    { bridge: "vtpadd1", gateway: "198.51.100.1/24", dns: ["198.51.100.53"], attach: "veth" },
  );
  const j = await capture(() => providerAdd("vtpadd2", { gateway: "198.51.100.1/24", json: true }));
  assert.deepEqual(JSON.parse(j.out), {
    provider: { bridge: "vtpadd2", gateway: "198.51.100.1/24", dns: [] },
    config: h.roots.config,
    added: true,
  });
});

test("add refuses a duplicate and a bad gateway in one line; the file is unchanged", async () => {
  const before = readFileSync(h.roots.config, "utf8");
  for (const [bridge, gateway] of [
    ["vtpadd1", "198.51.100.1"],
    ["vtpbad", "300.1.1.1"],
  ] as const) {
    const r = await capture(() => providerAdd(bridge, { gateway }));
    assert.ok(r.error instanceof VnatError, `${bridge}: ${String(r.error)}`);
    assert.doesNotMatch(r.error.message, /\n/);
    assert.match(r.error.message, new RegExp(bridge));
    assert.equal(r.out, "");
  }
  assert.equal(readFileSync(h.roots.config, "utf8"), before);
});

test("list: a table of the providers, or --json the entries as in the file", async () => {
  const t = await capture(() => providerList({}));
  const lines = t.out.trimEnd().split("\n");
  assert.match(lines[0]!, /^BRIDGE\s+GATEWAY\s+POOL\s+DNS\s+ATTACH$/);
  assert.match(lines[1]!, new RegExp(`^${h.provider}\\s+198\\.51\\.100\\.1/24\\s+${PROVIDER_POOL}\\s+-\\s+auto$`));
  assert.match(lines[2]!, /^vtpadd1\s+198\.51\.100\.1\/24\s+-\s+198\.51\.100\.53\s+veth$/);
  const j = await capture(() => providerList({ json: true }));
  assert.deepEqual(
    (JSON.parse(j.out) as Array<{ bridge: string }>).map((p) => p.bridge),
    [h.provider, "vtpadd1", "vtpadd2"],
  );
});

test("remove: refused (conflict) while a vnat network uses the provider; --force removes it", async () => {
  const name = h.track(h.name("vr"));
  const net3 = h.subnet();
  const c = await capture(() =>
    netCreate(name, { subnet: `${net3}.0/24`, provider: h.provider, uplink: "auto", bridge: h.name("vb") }),
  );
  assert.equal(c.error, undefined, String(c.error));
  const refused = await capture(() => providerRemove(h.provider, {}));
  assert.ok(refused.error instanceof VnatError);
  assert.equal(refused.error.kind, "conflict");
  assert.equal(
    refused.error.message,
    `provider "${h.provider}": used by vnat network(s) "${name}" (delete them first, or use --force)`,
  );
  assert.ok(
    file().providers.some((p) => p.bridge === h.provider),
    "still there",
  );
  const forced = await capture(() => providerRemove(h.provider, { force: true, json: true }));
  assert.equal(forced.error, undefined, String(forced.error));
  assert.deepEqual(JSON.parse(forced.out), {
    provider: { bridge: h.provider, gateway: PROVIDER_GATEWAY, pool: PROVIDER_POOL },
    config: h.roots.config,
    removed: true,
  });
  assert.ok(!file().providers.some((p) => p.bridge === h.provider));
});

test("remove of an unused provider: said in one line; of an unknown one: refused", async () => {
  const r = await capture(() => providerRemove("vtpadd2", {}));
  assert.equal(r.out, `removed provider "vtpadd2" from ${h.roots.config}\n`);
  const unknown = await capture(() => providerRemove("vtpnone", {}));
  assert.ok(unknown.error instanceof VnatError, String(unknown.error));
  assert.equal(unknown.error.message, `provider "vtpnone": not in the config (see vnat provider list)`);
});
