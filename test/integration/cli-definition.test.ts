// src/cli/definition.ts against the real libvirt: the persistent definition every changing
// command reads — this network's XML and parsed metadata, every other network's document, its
// active flag — and the one-line refusals for a network libvirt lacks, one without vnat
// metadata and a transient one.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { loadVnatDefinition } from "../../src/cli/definition.ts";
import { netCreate } from "../../src/cli/net/create.ts";
import { VnatError } from "../../src/core/errors.ts";
import { capture } from "../support/cli.ts";
import { cliHost, virshSync, type CliHost } from "../support/cli-host.ts";

let h: CliHost;
let name: string;
let plain: string;
before(async () => {
  h = await cliHost();
  name = h.track(h.name("vd"));
  const c = await capture(() =>
    netCreate(name, {
      subnet: `${h.subnet()}.0/24`,
      provider: h.provider,
      uplink: "198.51.100.15",
      bridge: h.name("vb"),
    }),
  );
  assert.equal(c.error, undefined, String(c.error));
  plain = h.track(h.name("vp"));
  h.definePlain(plain, h.name("vb"), h.subnet());
});
after(() => h.close());

test("a vnat network: its XML with the metadata parsed, every network's document, inactive", async () => {
  const d = await loadVnatDefinition(name);
  assert.equal(d.active, false);
  assert.match(d.xml, new RegExp(`<name>${name}</name>`));
  assert.match(d.xml, /urn:vnat:network:1/);
  assert.equal(d.net.name, name);
  assert.ok(d.net.metadata, "the vnat metadata element is there");
  assert.equal(d.docs.get(name), d.xml);
  assert.ok(d.docs.has(plain), "other networks' documents come along (their addresses are taken)");
});

test("refusals: not in libvirt, no vnat metadata, transient — one line each, invalid input", async () => {
  const t = h.track(h.name("vt"));
  const file = `${h.roots.dir}/${t}.xml`;
  writeFileSync(file, `<network><name>${t}</name><bridge name='${h.name("vb")}'/></network>`);
  const c = virshSync(["net-create", file]);
  assert.equal(c.status, 0, c.stderr);
  const cases: Array<[string, string]> = [
    ["vtnosuchnet", 'network "vtnosuchnet": not defined in libvirt (see vnat net list)'],
    [plain, `network "${plain}": not a vnat network (no vnat metadata); vnat leaves it alone`],
    [t, `network "${t}": is transient; vnat keeps its settings in a persistent definition (virsh net-define)`],
  ];
  for (const [n, message] of cases)
    await assert.rejects(loadVnatDefinition(n), (e: unknown) => {
      assert.ok(e instanceof VnatError, n);
      assert.equal(e.kind, "invalid-input", n);
      assert.equal(e.message, message);
      return true;
    });
});
