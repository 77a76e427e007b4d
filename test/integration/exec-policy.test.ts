// exec/probe/policy-facts.ts: the host facts the uplink policy reads (the host's addresses — a test
// namespace stands in for the host through VNAT_HOST_NETNS —, other networks' LAN bridges
// from state files in a temp run dir), the refusals built on them, and the duplicate-address
// probe on a test provider bridge where a namespace answers for one address.
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { writeState } from "../../src/adapters/store/state.ts";
import { parseConfig } from "../../src/core/input/config.ts";
import { VnatError } from "../../src/core/errors.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { parseIp } from "../../src/core/ipv4.ts";
import { netPaths } from "../../src/core/paths.ts";
import { buildSpec, type NetSpec } from "../../src/core/input/spec.ts";
import { enforcePolicy, fibHash, probePolicyFacts, refuseDuplicates } from "../../src/exec/probe/policy-facts.ts";
import { processRunner } from "../../src/exec/run.ts";
import { hookData } from "../support/fixtures.ts";
import { run } from "../support/sh.ts";
import { Scratch } from "../support/scratch.ts";

const s = new Scratch();
const dir = mkdtempSync(join(tmpdir(), "vnat-policy-"));
const roots = { run: join(dir, "run"), config: join(dir, "config.json"), log: join(dir, "log") };
const saved = process.env.VNAT_HOST_NETNS;
let prov = "";
let hostNs = "";
let peerMac = "";

before(async () => {
  prov = await s.bridge("p");
  // the host's own addresses: a namespace standing in for the host
  hostNs = await s.netns("host");
  await run("ip", ["-n", hostNs, "link", "add", "br0", "type", "bridge"]);
  await run("ip", ["-n", hostNs, "addr", "add", "198.51.100.90/24", "dev", "br0"]);
  // another host on the provider network, answering for 198.51.100.92
  const peer = await s.netns("peer");
  const port = s.link("h0");
  await run("ip", ["link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", peer]);
  await run("ip", ["link", "set", port, "master", prov]);
  await run("ip", ["link", "set", port, "up"]);
  await run("ip", ["-n", peer, "addr", "add", "198.51.100.92/24", "dev", "eth0"]);
  await run("ip", ["-n", peer, "link", "set", "eth0", "up"]);
  peerMac = JSON.parse((await run("ip", ["-n", peer, "-j", "link", "show", "eth0"])).stdout)[0].address as string;
  process.env.VNAT_HOST_NETNS = hostNs;
});
after(async () => {
  if (saved === undefined) delete process.env.VNAT_HOST_NETNS;
  else process.env.VNAT_HOST_NETNS = saved;
  rmSync(dir, { recursive: true, force: true });
  await s.cleanup();
});

const spec = (name: string, uplinkBridge: string, uplink: string, extra = ""): NetSpec =>
  buildSpec(
    parseHookData(
      hookData({
        name,
        bridge: "virbr71",
        uplinkBridge,
        uplink: `${uplink}/24`,
        gateway: "198.51.100.1",
        extraMetadata: extra,
      }),
    ).network,
    { providers: [] },
  );
const config = () =>
  parseConfig("test config", JSON.stringify({ providers: [{ bridge: prov, gateway: "198.51.100.1/24" }] }));

test("probePolicyFacts: the host's addresses and every running network's LAN bridge (unreadable state skipped)", async () => {
  await writeState(roots, {
    name: "other1",
    phase: "active",
    lanBridge: "virbr70",
    uplinkBridge: prov,
    uplink: "198.51.100.95",
    netns: "vnat-other1",
    startedAt: new Date().toISOString(),
  });
  const bad = netPaths(roots, "bad1").state;
  mkdirSync(join(bad, ".."), { recursive: true });
  writeFileSync(bad, "{");
  const facts = await probePolicyFacts(processRunner, roots);
  assert.deepEqual(facts.hostAddrs, [parseIp("198.51.100.90")]);
  assert.deepEqual([...facts.vnatLanBridges], [["virbr70", "other1"]]);
});

test("enforcePolicy: refuses a host address, another network's LAN bridge, an unconfigured provider", async () => {
  await enforcePolicy(processRunner, roots, spec("pol1", prov, "198.51.100.91"), config());
  const refused = (kind: string, re: RegExp) => (e: unknown) =>
    e instanceof VnatError && e.kind === kind && re.test(e.message) && !e.message.includes("\n");
  await assert.rejects(
    enforcePolicy(processRunner, roots, spec("pol1", prov, "198.51.100.90"), config()),
    refused("conflict", /^network "pol1": uplink 198\.51\.100\.90 is an address of this host/),
  );
  await assert.rejects(
    enforcePolicy(processRunner, roots, spec("pol1", "virbr70", "198.51.100.91"), config()),
    refused("conflict", /uplink bridge "virbr70" is the LAN bridge of vnat network "other1"/),
  );
  // its own LAN bridge recorded under its own name is no refusal of that kind
  await assert.rejects(
    enforcePolicy(processRunner, roots, spec("other1", "virbr70", "198.51.100.91"), config()),
    refused("invalid-input", /uplink bridge "virbr70" is not a configured provider/),
  );
});

test("fibHash: sha256 of the kernel's fib_trie, as the shell hook takes it", async () => {
  const h = await fibHash();
  assert.match(h, /^[0-9a-f]{64}$/);
  assert.equal(h, createHash("sha256").update(readFileSync("/proc/net/fib_trie")).digest("hex"));
});

test("refuseDuplicates: an uplink or floating IP another host answers for is refused naming its MAC", async () => {
  await refuseDuplicates(processRunner, spec("dup1", prov, "198.51.100.93"));
  const again = async (sp: NetSpec, re: RegExp) => {
    // the probe waits only briefly for an answer: a loaded machine may need a second probe
    for (let i = 0; ; i++) {
      try {
        await refuseDuplicates(processRunner, sp);
      } catch (e) {
        assert.ok(e instanceof VnatError && e.kind === "conflict", String(e));
        assert.match(e.message, re);
        return;
      }
      if (i === 4) assert.fail("no refusal");
    }
  };
  await again(
    spec("dup1", prov, "198.51.100.92"),
    new RegExp(`^network "dup1": uplink 198\\.51\\.100\\.92 on bridge "${prov}" is already answered for by ${peerMac}`),
  );
  await again(
    spec("dup1", prov, "198.51.100.93", `<vnat:floating address="198.51.100.92" to="10.0.0.5"/>`),
    new RegExp(`floating IP 198\\.51\\.100\\.92 on bridge "${prov}" is already answered for by ${peerMac}`),
  );
});
