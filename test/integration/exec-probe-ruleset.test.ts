// exec/probe/reference-rulesets.ts: the reference ruleset of each network, loaded side by side into one
// throwaway namespace and listed back, is exactly what the kernel lists for that network's
// rendered ruleset loaded alone into a namespace of its own (normalized the same way).
import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { after, before, test } from "node:test";
import { EMPTY_CONFIG } from "../../src/core/input/config.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { renderNft } from "../../src/core/plan/render.ts";
import { normalizeRuleset } from "../../src/core/judge/ruleset.ts";
import { buildSpec, type NetSpec } from "../../src/core/input/spec.ts";
import { probeHostAddresses } from "../../src/exec/probe/host-addrs.ts";
import { referenceRulesets } from "../../src/exec/probe/reference-rulesets.ts";
import { processRunner, type Runner } from "../../src/exec/run.ts";
import { hookData } from "../support/fixtures.ts";
import { run } from "../support/sh.ts";
import { Scratch } from "../support/scratch.ts";

const s = new Scratch();
after(() => s.cleanup());

const spec = (name: string, uplink: string, extra = ""): NetSpec =>
  buildSpec(
    parseHookData(
      hookData({
        name,
        bridge: "virbr9",
        uplinkBridge: "br-prov",
        uplink,
        gateway: "198.51.100.1",
        extraMetadata: extra,
      }),
    ).network,
    EMPTY_CONFIG,
  );
const A = spec("refa", "198.51.100.60/24");
const B = spec(
  "refb",
  "198.51.100.61/24",
  `<vnat:forward proto="tcp" port="8080" to="10.0.0.5" to-port="80"/><vnat:isolation host="open"/>`,
);

/** What the kernel lists for SPEC's ruleset loaded alone into a test namespace. */
async function alone(ns: string, s0: NetSpec): Promise<string> {
  await run("ip", ["netns", "exec", ns, "nft", "-f", "-"], {
    input: renderNft(s0, await probeHostAddresses(processRunner)),
  });
  return normalizeRuleset((await run("ip", ["netns", "exec", ns, "nft", "list", "ruleset"])).stdout);
}

let expectA = "";
let expectB = "";
before(async () => {
  expectA = await alone(await s.netns("a"), A);
  expectB = await alone(await s.netns("b"), B);
  assert.notEqual(expectA, expectB);
  assert.match(expectA, /^table ip vnat/m);
});

const refDirs = () => readdirSync(tmpdir()).filter((f) => f.startsWith("vnat-ref-")).length;

test("each network's reference equals its ruleset as the kernel lists it, however many load together", async () => {
  const dirs = refDirs();
  const refs = await referenceRulesets(processRunner, [A, B]);
  assert.deepEqual([...refs.keys()].sort(), ["refa", "refb"]);
  assert.equal(refs.get("refa"), expectA);
  assert.equal(refs.get("refb"), expectB);
  assert.equal(refDirs(), dirs, "its temp directory is removed");
});

test("when the one transaction of all networks lists nothing, each is loaded on its own: same references", async () => {
  let unshares = 0;
  const firstFails: Runner = {
    run: (cmd, args, opts) => {
      if (cmd === "unshare" && unshares++ === 0) return Promise.resolve({ exitCode: 1, stdout: "", stderr: "x" });
      return processRunner.run(cmd, args, opts);
    },
  };
  const refs = await referenceRulesets(firstFails, [A, B]);
  assert.equal(unshares, 2);
  assert.equal(refs.get("refa"), expectA);
  assert.equal(refs.get("refb"), expectB);
});

test("no networks: an empty map and no process", async () => {
  const none: Runner = { run: () => assert.fail("no process expected") };
  assert.equal((await referenceRulesets(none, [])).size, 0);
});
