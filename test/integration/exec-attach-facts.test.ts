// exec/probe/attach-facts.ts: the br_netfilter switches "auto" attachment reads — the global one
// (or VNAT_BRIDGE_NF_CALL_IPTABLES standing in for it), each bridge's own nf_call_iptables —
// and whether the provider bridge carries an address, read from test bridges on the real kernel.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { EMPTY_CONFIG } from "../../src/core/input/config.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { buildSpec, type NetSpec } from "../../src/core/input/spec.ts";
import {
  attachFacts,
  BRIDGE_NF_CALL_IPTABLES,
  bridgeCallsIptables,
  bridgeNfCall,
  globalNfCall,
} from "../../src/exec/probe/attach-facts.ts";
import { processRunner, type Runner } from "../../src/exec/run.ts";
import { hookData } from "../support/fixtures.ts";
import { run } from "../support/sh.ts";
import { Scratch } from "../support/scratch.ts";

const s = new Scratch();
let lan = "";
let prov = "";
let ns = "";
const saved = process.env.VNAT_BRIDGE_NF_CALL_IPTABLES;
before(async () => {
  lan = await s.bridge("l");
  prov = await s.bridge("p");
  ns = await s.netns("af");
});
after(async () => {
  if (saved === undefined) delete process.env.VNAT_BRIDGE_NF_CALL_IPTABLES;
  else process.env.VNAT_BRIDGE_NF_CALL_IPTABLES = saved;
  await s.cleanup();
});

const spec = (): NetSpec =>
  buildSpec(
    parseHookData(
      hookData({ name: "af1", bridge: lan, uplinkBridge: prov, uplink: "198.51.100.30/24", gateway: "198.51.100.1" }),
    ).network,
    EMPTY_CONFIG,
  );

const setOwn = (bridge: string, on: boolean) =>
  run("ip", ["link", "set", bridge, "type", "bridge", "nf_call_iptables", on ? "1" : "0"]);

test("globalNfCall: the override when it is 0 or 1, else the kernel's switch (null without br_netfilter)", () => {
  assert.equal(globalNfCall({ VNAT_BRIDGE_NF_CALL_IPTABLES: "0" }), false);
  assert.equal(globalNfCall({ VNAT_BRIDGE_NF_CALL_IPTABLES: "1" }), true);
  let kernel: boolean | null = null;
  try {
    kernel = readFileSync(BRIDGE_NF_CALL_IPTABLES, "utf8").trim() === "1";
  } catch {
    /* br_netfilter not loaded */
  }
  assert.equal(globalNfCall({}), kernel);
  assert.equal(globalNfCall({ VNAT_BRIDGE_NF_CALL_IPTABLES: "yes" }), kernel);
});

test("bridgeNfCall: the bridge's own flag as it is set; null for no such bridge", async () => {
  await setOwn(lan, false);
  assert.equal(bridgeNfCall(lan), false);
  await setOwn(lan, true);
  assert.equal(bridgeNfCall(lan), true);
  await setOwn(lan, false);
  assert.equal(bridgeNfCall(`${lan}x`), null);
});

test("bridgeCallsIptables and attachFacts: a bridge whose own flag is on passes frames, with the global switch off", async () => {
  process.env.VNAT_BRIDGE_NF_CALL_IPTABLES = "0";
  await setOwn(lan, true);
  await setOwn(prov, false);
  assert.equal(bridgeCallsIptables(lan), true);
  assert.equal(bridgeCallsIptables(prov), false);
  assert.deepEqual(await attachFacts(processRunner, spec()), {
    uplinkHasAddress: false,
    lanCallsIptables: true,
    uplinkCallsIptables: false,
  });
  process.env.VNAT_BRIDGE_NF_CALL_IPTABLES = "1";
  await setOwn(lan, false);
  assert.deepEqual(await attachFacts(processRunner, spec()), {
    uplinkHasAddress: false,
    lanCallsIptables: true,
    uplinkCallsIptables: true,
  });
  process.env.VNAT_BRIDGE_NF_CALL_IPTABLES = "0";
});

test("attachFacts: a provider bridge with an address (in a test namespace) is seen; a forced kind asks nothing", async () => {
  // the same bridge name inside a namespace, with an address: ip(8) runs there
  await run("ip", ["-n", ns, "link", "add", prov, "type", "bridge"]);
  await run("ip", ["-n", ns, "addr", "add", "198.51.100.31/24", "dev", prov]);
  const calls: string[][] = [];
  const inNs: Runner = {
    run: (cmd, args, opts) => {
      calls.push([cmd, ...args]);
      return processRunner.run(cmd, cmd === "ip" ? ["-n", ns, ...args] : args, opts);
    },
  };
  assert.equal((await attachFacts(inNs, spec())).uplinkHasAddress, true);
  assert.equal(calls.length, 1);
  const forced = spec();
  forced.uplink.attach = "veth";
  assert.equal((await attachFacts(inNs, forced)).uplinkHasAddress, false);
  assert.equal(calls.length, 1, "no ip process when the provider forces the uplink's kind");
});
