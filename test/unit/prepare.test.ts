// prepareNetwork (vnat's hook daemon at `start begin`) with a recording runner: everything
// but the LAN veth's attachment first, the attachment at finish(); a failure at either
// stage undoes everything, as startNetwork does.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { EMPTY_CONFIG } from "../../src/core/config.ts";
import { parseHookData } from "../../src/core/hookdata.ts";
import { buildSpec } from "../../src/core/spec.ts";
import { prepareNetwork, startNetwork } from "../../src/exec/apply.ts";
import type { RunResult, Runner } from "../../src/exec/run.ts";
import { hookData } from "../support/fixtures.ts";

const spec = buildSpec(
  parseHookData(
    hookData({
      name: "prep",
      bridge: "vt-nonexist0",
      uplinkBridge: "vt-nonexist1",
      uplink: "198.51.100.11/24",
      gateway: "198.51.100.1",
    }),
  ).network,
  EMPTY_CONFIG,
);
const attach = `link set ${spec.names.lanHost} master vt-nonexist0 up`;
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Records every command (a batch with its lines); fails the batch that contains FAIL. */
function recorder(fail?: string): Runner & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async run(cmd, args, o): Promise<RunResult> {
      const text = [cmd, ...args].join(" ");
      calls.push(o?.input && args.includes("-batch") ? `${text} <<${o.input.trim().split("\n").join(" | ")}` : text);
      if (fail && o?.input?.includes(fail))
        return { exitCode: 1, stdout: "", stderr: "RTNETLINK answers: No such device\nCommand failed -:1\n" };
      return { exitCode: 0, stdout: "", stderr: "" };
    },
  };
}

function ctx(runner: Runner) {
  const run = mkdtempSync(join(tmpdir(), "vnat-prep-"));
  dirs.push(run);
  return { runner, roots: { run, config: "/nonexistent", log: run } };
}

describe("prepareNetwork", () => {
  test("builds all but the LAN attachment; finish() attaches and records", async () => {
    const runner = recorder();
    const c = ctx(runner);
    const p = await prepareNetwork(c, spec);
    assert.ok(!runner.calls.some((l) => l.includes(attach)), "the LAN veth stays off the (not yet made) bridge");
    assert.ok(runner.calls.some((l) => l.includes("dnsmasq")));
    const before = runner.calls.length;
    await p.finish();
    assert.deepEqual(runner.calls.slice(before), [`ip -batch - <<${attach}`]);
    // the state says active
    assert.match(readdirSync(join(c.roots.run, "net", "prep")).join(" "), /state\.json/);
  });

  test("the same commands as startNetwork, the attachment moved last", async () => {
    const [a, b] = [recorder(), recorder()];
    await startNetwork(ctx(a), spec);
    await (await prepareNetwork(ctx(b), spec)).finish();
    const strip = (calls: string[]) => calls.map((l) => l.replace(` | ${attach}`, "").replace(/vnat-prep-\w+/g, "RUN"));
    assert.deepEqual(strip(b.calls).slice(0, -1), strip(a.calls));
    assert.equal(b.calls.at(-1), `ip -batch - <<${attach}`);
  });

  test("an early attach() (the bridge appeared) is not repeated by finish()", async () => {
    const runner = recorder();
    const p = await prepareNetwork(ctx(runner), spec);
    await p.attach();
    await p.finish();
    assert.equal(runner.calls.filter((l) => l.includes(attach)).length, 1);
  });

  test("a failing attachment undoes everything prepared", async () => {
    const runner = recorder(attach);
    const c = ctx(runner);
    const p = await prepareNetwork(c, spec);
    await assert.rejects(
      p.finish(),
      new RegExp(`step "attach" failed: "ip ${attach}": RTNETLINK answers: No such device \\(everything undone\\)`),
    );
    const rest = runner.calls.slice(runner.calls.findIndex((l) => l.includes(attach)) + 1);
    assert.ok(rest.includes("ip netns del vnat-prep"), rest.join("\n"));
    assert.deepEqual(readdirSync(join(c.roots.run, "net")), []);
    assert.deepEqual(readdirSync(join(c.roots.run, "claims")), []);
  });

  test("abort() undoes a prepared namespace", async () => {
    const runner = recorder();
    const c = ctx(runner);
    const p = await prepareNetwork(c, spec);
    assert.deepEqual(await p.abort(), []);
    assert.ok(runner.calls.includes("ip netns del vnat-prep"));
    assert.deepEqual(readdirSync(join(c.roots.run, "net")), []);
  });
});
