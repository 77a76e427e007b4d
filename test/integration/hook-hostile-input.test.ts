// The hostile-input corpus (test/corpus/) through hooks/network exactly as libvirt runs
// it: every refused document exits at `start begin` with its one expected line on stderr
// and nothing created (no namespace, no link, no file under vnat's run directory); every
// odd-but-valid one starts a working namespace and stops without a trace.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { kernelNames } from "../../src/core/names.ts";
import { expectPattern, loadCorpus, type CorpusItem, type CorpusVars } from "../support/corpus.ts";
import { runHook } from "../support/hook.ts";
import { run } from "../support/sh.ts";
import { assertNoWorldDebris, createWorld, type World } from "../support/world.ts";

const tag = randomBytes(2).toString("hex");
const tmp = mkdtempSync(join(tmpdir(), "vnat-hostile-"));
// dnsmasq drops to nobody and must traverse to its files
chmodSync(tmp, 0o711);
// no VNAT_CONFIG: runHook runs with the config listing this process's worlds (test/support/world.ts)
const env = { VNAT_RUN_DIR: join(tmp, "run"), VNAT_LOG_DIR: join(tmp, "log") };
let world: World;
let vars: CorpusVars;
const started = new Map<string, string>();

before(async () => {
  world = await createWorld();
  vars = {
    NAME: `h${tag}`,
    LAN_BRIDGE: await world.addLanBridge(),
    UPLINK_BRIDGE: world.providerBridge,
    UPLINK: "198.51.100.31/24",
    GATEWAY: world.providerGateway,
    DNS: world.upstreamDns,
    FLOATING: "198.51.100.250",
  };
});

after(async () => {
  for (const [name, stdin] of started) await runHook(name, "stopped", "end", stdin, env);
  await world?.destroy();
  rmSync(tmp, { recursive: true, force: true });
  if (world) await assertNoWorldDebris(world.tag);
});

/** What the hook left of NAME: kernel objects by vnat's names, files under the private run dir. */
function debris(name: string): string[] {
  const out: string[] = [];
  const k = kernelNames(name);
  if (existsSync(`/run/netns/${k.netns}`)) out.push(`namespace ${k.netns}`);
  for (const l of [k.lanHost, k.uplinkHost]) if (existsSync(`/sys/class/net/${l}`)) out.push(`link ${l}`);
  for (const d of ["net", "claims"])
    for (const f of existsSync(join(env.VNAT_RUN_DIR, d)) ? readdirSync(join(env.VNAT_RUN_DIR, d)) : [])
      out.push(`${d}/${f}`);
  return out;
}

describe("hostile corpus through the hook: refused at start begin, nothing touched", () => {
  const items = (): CorpusItem[] => loadCorpus("refused", vars);
  test("every refused document", async (t) => {
    for (const item of items()) {
      const r = await runHook(item.argv, "start", "begin", item.stdin, env);
      const where = `${item.id} (${item.why})`;
      assert.equal(r.exitCode, item.exit, `${where}: exit ${r.exitCode}: ${r.stderr}`);
      assert.equal(r.stdout, "", where);
      // one line (execa strips the final newline)
      assert.match(r.stderr, expectPattern(`vnat: ${item.expect}`), where);
      assert.deepEqual(debris(item.argv), [], where);
    }
    t.diagnostic(`${items().length} documents refused`);
  });
});

describe("odd but valid corpus through the hook: a working namespace, then nothing left", () => {
  test("every accepted document", async (t) => {
    for (const item of loadCorpus("accepted", vars)) {
      const where = `${item.id} (${item.why})`;
      for (const [op, subop] of [
        ["start", "begin"],
        ["started", "begin"],
      ] as const) {
        const r = await runHook(item.argv, op, subop, item.stdin, env);
        started.set(item.argv, item.stdin);
        assert.equal(r.exitCode, 0, `${where}: ${op}: ${r.stderr}`);
        assert.equal(r.stdout + r.stderr, "", where);
      }
      const netns = kernelNames(item.argv).netns;
      const addr = await run("ip", ["-n", netns, "-4", "-o", "addr", "show", "dev", "lan0"]);
      assert.match(addr.stdout, / inet 10\.\d+\.\d+\.\d+\/\d+ /, where);
      if (/<networkport>/.test(item.stdin)) {
        const p = await runHook(item.argv, "port-created", "begin", item.stdin, env);
        assert.equal(p.exitCode, 0, `${where}: port-created: ${p.stderr}`);
      }
      const s = await runHook(item.argv, "stopped", "end", item.stdin, env);
      assert.equal(s.exitCode, 0, `${where}: stopped: ${s.stderr}`);
      started.delete(item.argv);
      assert.deepEqual(debris(item.argv), [], where);
    }
    t.diagnostic("each accepted document started and stopped cleanly");
  });
});
