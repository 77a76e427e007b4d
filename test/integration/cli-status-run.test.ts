// src/cli/status/run.ts: `vnat status` against the real libvirt and host, temp VNAT_* roots:
// a defined, stopped vnat network in the summary, in detail when named alone, in --json;
// an unknown name refused in one line; not root refused first.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { netCreate } from "../../src/cli/net/create.ts";
import { status } from "../../src/cli/status/run.ts";
import { VnatError } from "../../src/core/errors.ts";
import { capture } from "../support/cli.ts";
import { cliHost, type CliHost } from "../support/cli-host.ts";

let h: CliHost;
let name: string;
let bridge: string;
before(async () => {
  h = await cliHost();
  name = h.track(h.name("vq"));
  bridge = h.name("vb");
  const c = await capture(() =>
    netCreate(name, { subnet: `${h.subnet()}.0/24`, provider: h.provider, uplink: "198.51.100.18", bridge }),
  );
  assert.equal(c.error, undefined, String(c.error));
});
after(() => h.close());

interface Doc {
  networks: Array<{ name: string; health: string; libvirt: { active: boolean } }>;
}

test("--json: every vnat network, the stopped one among them as stopped", async () => {
  const r = await capture(() => status([], { json: true }));
  assert.equal(r.error, undefined, String(r.error));
  const doc = JSON.parse(r.out) as Doc;
  const mine = doc.networks.find((n) => n.name === name);
  assert.ok(mine, r.out.slice(0, 500));
  assert.equal(mine.health, "stopped");
  assert.equal(mine.libvirt.active, false);
});

test("named: only that network (--json), and in detail as text", async () => {
  const j = await capture(() => status([name], { json: true }));
  assert.equal(j.error, undefined, String(j.error));
  assert.deepEqual(
    (JSON.parse(j.out) as Doc).networks.map((n) => n.name),
    [name],
  );
  const t = await capture(() => status([name], {}));
  assert.equal(t.error, undefined, String(t.error));
  assert.match(t.out, new RegExp(name));
  assert.match(t.out, /stopped/);
  assert.doesNotMatch(t.out, /\x1b\[/, "no colour: stdout is not a terminal");
});

test("summary text: a line for the network", async () => {
  const r = await capture(() => status([], {}));
  assert.equal(r.error, undefined, String(r.error));
  const line = r.out.split("\n").find((l) => l.includes(name));
  assert.ok(line, r.out);
  assert.match(line, /stopped/);
});

test("an unknown network: one line, invalid input", async () => {
  const r = await capture(() => status(["vtnosuchnet"], {}));
  assert.ok(r.error instanceof VnatError);
  assert.equal(r.error.kind, "invalid-input");
  assert.equal(
    r.error.message,
    'network "vtnosuchnet": not a vnat network and nothing of it is left (see vnat status)',
  );
  assert.equal(r.out, "");
});

test("not root: refused before libvirt is asked", async () => {
  const real = process.getuid;
  process.getuid = () => 1000;
  try {
    await assert.rejects(status([], {}), (e: unknown) => e instanceof VnatError && e.kind === "needs-root");
  } finally {
    process.getuid = real;
  }
});
