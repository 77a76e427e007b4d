// src/cli/inbound/transaction.ts: the one path of inbound changes, against the real libvirt: the
// edited metadata is validated as a start would (buildSpec, addresses other networks hold)
// and defined; an inactive network says "inactive"; a refused change leaves the definition
// as it was; what is not a persistent vnat network is refused in one line.
import assert from "node:assert/strict";
import { writeFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { editInbound } from "../../src/cli/inbound/transaction.ts";
import { netCreate } from "../../src/cli/net/create.ts";
import { VnatError } from "../../src/core/errors.ts";
import * as edits from "../../src/core/edit/inbound.ts";
import { capture } from "../support/cli.ts";
import { cliHost, virshSync, type CliHost } from "../support/cli-host.ts";

let h: CliHost;
let a: string;
let b: string;
let net3: string;
const xml = (n: string) => virshSync(["net-dumpxml", "--inactive", n]).stdout;

before(async () => {
  h = await cliHost();
  a = h.track(h.name("vi"));
  b = h.track(h.name("vi"));
  net3 = h.subnet();
  for (const [n, s, up] of [
    [a, net3, "198.51.100.12"],
    [b, h.subnet(), "198.51.100.13"],
  ] as const) {
    const c = await capture(() =>
      netCreate(n, { subnet: `${s}.0/24`, provider: h.provider, uplink: up, bridge: h.name("vb") }),
    );
    assert.equal(c.error, undefined, String(c.error));
  }
});
after(() => h.close());

test("an inactive network: the change is defined (it applies at the next start)", async () => {
  const o = await editInbound(a, (m) => edits.addForward(m, a, "tcp", "8080", `${net3}.10:80`));
  assert.equal(o.live, "inactive");
  assert.deepEqual(o.warnings, []);
  assert.equal(o.spec.name, a);
  assert.equal(o.spec.forwards?.length, 1);
  assert.match(xml(a), /8080/);
  const h2 = await editInbound(a, (m) => edits.addHost(m, a, "52:54:00:AA:00:07", `${net3}.7`, "seven"));
  assert.equal(h2.live, "inactive");
  assert.match(xml(a), /52:54:00:aa:00:07/);
  assert.match(xml(a), /8080/, "the earlier change is kept");
});

test("refused as a start would refuse it, the definition left as it was", async () => {
  const before = xml(a);
  const cases: Array<[string, Parameters<typeof editInbound>[1], RegExp]> = [
    ["a guest outside the subnet", (m) => edits.addForward(m, a, "tcp", "8081", "10.9.9.9:80"), /10\.9\.9\.9/],
    [
      "a floating IP another network holds as its uplink",
      (m) => edits.addFloating(m, a, "198.51.100.13", `${net3}.10`),
      /198\.51\.100\.13/,
    ],
    ["a forward that is not there", (m) => edits.removeForward(m, a, "udp", "53"), /udp 53: not forwarded/],
  ];
  for (const [what, edit, re] of cases) {
    const r = await capture(() => editInbound(a, edit));
    assert.ok(r.error instanceof VnatError, `${what}: ${String(r.error)}`);
    assert.doesNotMatch(r.error.message, /\n/, what);
    assert.match(r.error.message, new RegExp(`network "${a}"`), what);
    assert.match(r.error.message, re, what);
    assert.equal(xml(a), before, what);
  }
});

test("not in libvirt, without vnat metadata, transient: refused in one line", async () => {
  await assert.rejects(
    editInbound("vtnosuchnet", (m) => m),
    {
      message: 'network "vtnosuchnet": not defined in libvirt (see vnat net list)',
    },
  );
  const plain = h.name("vl");
  h.definePlain(plain, h.name("vb"), h.subnet());
  await assert.rejects(
    editInbound(plain, (m) => m),
    {
      message: `network "${plain}": not a vnat network (no vnat metadata); vnat leaves it alone`,
    },
  );
  const t = h.track(h.name("vt"));
  const file = `${h.roots.dir}/${t}.xml`;
  writeFileSync(file, `<network><name>${t}</name><bridge name='${h.name("vb")}'/></network>`);
  const c = virshSync(["net-create", file]);
  assert.equal(c.status, 0, c.stderr);
  await assert.rejects(
    editInbound(t, (m) => m),
    (e: unknown) => {
      assert.ok(e instanceof VnatError);
      assert.equal(e.kind, "invalid-input");
      assert.match(
        e.message,
        new RegExp(`^network "${t}": is transient; vnat keeps its settings in a persistent definition`),
      );
      return true;
    },
  );
});
