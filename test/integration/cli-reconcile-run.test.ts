// src/cli/reconcile/run.ts against the real host and libvirt, limited to one network (so no
// stray of anyone else's is looked at): a namespace a stopped vnat network left behind (made
// here, vnat-NAME) is planned for removal by --dry-run (the plan on stdout, nothing changed;
// with --json the plan in the document, progress on stderr), and removed by a real run.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { spawnSync } from "node:child_process";
import { after, before, test } from "node:test";
import { netCreate } from "../../src/cli/net/create.ts";
import { reconcileCommand } from "../../src/cli/reconcile/run.ts";
import { kernelNames } from "../../src/core/names.ts";
import { capture } from "../support/cli.ts";
import { cliHost, type CliHost } from "../support/cli-host.ts";

let h: CliHost;
let name: string;
let netns: string;
before(async () => {
  h = await cliHost();
  name = h.track(h.name("vr"));
  netns = kernelNames(name).netns;
  const c = await capture(() =>
    netCreate(name, { subnet: `${h.subnet()}.0/24`, provider: h.provider, uplink: "auto", bridge: h.name("vb") }),
  );
  assert.equal(c.error, undefined, String(c.error));
  const r = spawnSync("ip", ["netns", "add", netns], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  mkdirSync(`/etc/netns/${netns}`, { recursive: true });
  writeFileSync(`/etc/netns/${netns}/resolv.conf`, "nameserver 10.254.254.1\n");
});
after(async () => {
  spawnSync("ip", ["netns", "del", netns]);
  rmSync(`/etc/netns/${netns}`, { recursive: true, force: true });
  await h.close();
});

const present = () => existsSync(`/run/netns/${netns}`);
const removal = () => `remove namespace, interfaces, dnsmasq and state of "${name}"`;

test("--dry-run: the plan on stdout, the summary says would repair; nothing changed", async () => {
  const r = await capture(() => reconcileCommand([name], { dryRun: true }));
  assert.equal(r.error, undefined, String(r.error));
  const lines = r.out.trimEnd().split("\n");
  assert.equal(lines[0], `[1/1] ${name}: would ${removal()}`);
  assert.match(lines[1]!, /^reconcile: 1 network\(s\) checked, 1 would repair, 0 with problems left \(\d+\.\d\d s\)$/);
  assert.ok(present(), "the namespace is still there");
});

test("--dry-run --json: the plan in the document, progress on stderr", async () => {
  const r = await capture(() => reconcileCommand([name], { dryRun: true, json: true }));
  assert.equal(r.error, undefined, String(r.error));
  assert.deepEqual(JSON.parse(r.out), {
    checked: 1,
    networks: [{ network: name, repairs: [removal()], failed: [], remaining: [] }],
    strayLinks: [],
    strayFdb: [],
    strayFailed: [],
    dryRun: true,
  });
  assert.equal(r.err, `[1/1] ${name}: would ${removal()}\n`);
  assert.ok(present());
});

test("a real run removes what the stopped network left; -q prints nothing when all went well", async () => {
  const r = await capture(() => reconcileCommand([name], { quiet: true }));
  assert.equal(r.error, undefined, String(r.error));
  assert.equal(r.out, "");
  assert.equal(r.err, "");
  assert.ok(!present(), "the namespace is gone");
  const again = await capture(() => reconcileCommand([name], {}));
  assert.equal(again.error, undefined, String(again.error));
  assert.match(again.out, /^reconcile: 1 network\(s\) checked, 0 repaired, 0 with problems left/);
});
