// exec/probe/doctor-facts.ts: what `vnat doctor` reads from the host. The kernel trial runs in
// throwaway namespaces (and a forced failure is reported by its first line); tool banners,
// the daemon and the hook are compared with what the test reads itself; the firewall facts
// are read inside a test namespace whose forward chains the test writes.
import assert from "node:assert/strict";
import { accessSync, constants, existsSync, readdirSync, readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import {
  daemonVersion,
  findDaemon,
  firewallFacts,
  HOOK_PATH,
  hookFacts,
  toolBanner,
  tryKernel,
} from "../../src/exec/probe/doctor-facts.ts";
import { processRunner, type Runner } from "../../src/exec/run.ts";
import { run } from "../support/sh.ts";
import { Scratch } from "../support/scratch.ts";

const s = new Scratch();
let ns = "";
before(async () => {
  ns = await s.netns("dr");
});
after(() => s.cleanup());

test("tryKernel: links and vnat's ruleset work here; a refusal is reported by its first line", async () => {
  assert.deepEqual(await tryKernel(processRunner), { links: null, nft: null });
  // the same trial with a line the kernel refuses added to each input
  const spoiled: Runner = {
    run: (cmd, args, opts) =>
      processRunner.run(cmd, args, {
        ...opts,
        input: args.includes("ip")
          ? `${opts?.input ?? ""}link add vd0 type veth peer name vd1\n`
          : `${opts?.input ?? ""}table ip vnat { chain x { type nat hook nowhere priority 0; } }\n`,
      }),
  };
  const r = await tryKernel(spoiled);
  assert.match(r.links ?? "", /File exists/);
  assert.match(r.nft ?? "", /\S/);
  assert.doesNotMatch(`${r.links}${r.nft}`, /\n/);
});

test("toolBanner: each tool's first version line; undefined for a tool that is not installed", async () => {
  assert.match((await toolBanner(processRunner, "nft")) ?? "", /^nftables v\d/);
  assert.match((await toolBanner(processRunner, "ip")) ?? "", /iproute2/);
  assert.equal(await toolBanner(processRunner, "vnat-no-such-tool"), undefined);
});

test("findDaemon and daemonVersion: the running libvirt daemon, as /proc lists it", async () => {
  const pids = readdirSync("/proc").filter((p) => {
    try {
      return /^\d+$/.test(p) && ["libvirtd", "virtnetworkd"].includes(readFileSync(`/proc/${p}/comm`, "utf8").trim());
    } catch {
      return false;
    }
  });
  const d = findDaemon();
  if (pids.length === 0) {
    assert.equal(d, undefined);
    assert.equal(await daemonVersion(processRunner), undefined);
    return;
  }
  assert.ok(d);
  assert.ok(pids.includes(String(d.pid)));
  assert.equal(readFileSync(`/proc/${d.pid}/comm`, "utf8").trim(), d.name);
  assert.ok(d.startedAt > Date.parse("2020-01-01") && d.startedAt <= Date.now() + 1000, String(d.startedAt));
  assert.match((await daemonVersion(processRunner)) ?? "", new RegExp(`${d.name}.*\\d+\\.\\d+`));
});

test("hookFacts: whether vnat's hook is installed and runs an ignored event; ranForActive passed on", async () => {
  let executable = false;
  try {
    accessSync(HOOK_PATH, constants.X_OK);
    executable = true;
  } catch {
    /* not there */
  }
  const f = await hookFacts(processRunner, true);
  assert.equal(f.path, HOOK_PATH);
  assert.equal(f.exists, existsSync(HOOK_PATH));
  assert.equal(f.executable, executable && f.exists);
  assert.equal(f.runs, executable, f.runError);
  assert.equal(f.ranForActive, true);
  assert.equal((await hookFacts(processRunner, false)).ranForActive, false);
});

test("firewallFacts: forward chains with their policy (only forward hooks), iptables rules, the veth bridges", async () => {
  await run("ip", ["netns", "exec", ns, "nft", "-f", "-"], {
    input:
      "table inet tf {\n  chain fw { type filter hook forward priority 0; policy drop; }\n" +
      "  chain inp { type filter hook input priority 0; policy drop; }\n}\n" +
      "table ip t2 {\n  chain f2 { type filter hook forward priority 10; }\n}\n",
  });
  const inNs: Runner = { run: (cmd, args, opts) => processRunner.run("ip", ["netns", "exec", ns, cmd, ...args], opts) };
  const f = await firewallFacts(inNs, ["virbr1", "br0"]);
  assert.deepEqual(
    f.nftForwardChains.sort((a, b) => a.table.localeCompare(b.table)),
    [
      { family: "ip", table: "t2", chain: "f2", policy: "accept" },
      { family: "inet", table: "tf", chain: "fw", policy: "drop" },
    ],
  );
  assert.match(f.iptables ?? "", /^-P FORWARD ACCEPT$/m);
  assert.deepEqual(f.vethBridges, ["virbr1", "br0"]);
  let global: boolean | null = null;
  try {
    global = readFileSync("/proc/sys/net/bridge/bridge-nf-call-iptables", "utf8").trim() === "1";
  } catch {
    /* not loaded */
  }
  assert.equal(f.bridgeNfCall, global);
  // without iptables or nft: null rules, no chains
  const broken: Runner = { run: () => Promise.resolve({ exitCode: 127, stdout: "", stderr: "not found" }) };
  const g = await firewallFacts(broken, []);
  assert.equal(g.iptables, null);
  assert.deepEqual(g.nftForwardChains, []);
});
