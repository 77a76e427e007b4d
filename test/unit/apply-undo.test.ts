// The undo journal with a recording runner: fail at step k, assert the undo ran in reverse.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { EMPTY_CONFIG } from "../../src/core/input/config.ts";
import { VnatError } from "../../src/core/errors.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { buildSpec } from "../../src/core/input/spec.ts";
import { startNetwork } from "../../src/exec/change/apply.ts";
import type { RunResult, Runner } from "../../src/exec/run.ts";
import { hookData } from "../support/fixtures.ts";

const spec = buildSpec(
  parseHookData(
    hookData({
      name: "undo",
      bridge: "vt-nonexist0",
      uplinkBridge: "vt-nonexist1",
      uplink: "198.51.100.11/24",
      gateway: "198.51.100.1",
    }),
  ).network,
  EMPTY_CONFIG,
);
// "auto" makes macvlans here, as on a host without br_netfilter (core/input/attach.ts): this
// machine's switch must not decide what the recorded lines are
process.env.VNAT_BRIDGE_NF_CALL_IPTABLES = "0";
const dirs: string[] = [];
const DEL_NETNS = "ip netns del vnat-undo";
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** Records every command; fails `ip -batch` at line N (1-based) of the host batch, or a whole command by match. */
function recorder(opts: { failBatchLine?: number; failCmd?: string }): Runner & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async run(cmd, args, o): Promise<RunResult> {
      const text = [cmd, ...args].join(" ");
      calls.push(o?.input && args.includes("-batch") ? `${text} <<${o.input.trim().split("\n").join(" | ")}` : text);
      if (opts.failCmd && text.includes(opts.failCmd)) return { exitCode: 1, stdout: "", stderr: "boom: simulated" };
      if (opts.failBatchLine && args.join(" ") === "-batch -")
        return {
          exitCode: 1,
          stdout: "",
          stderr: `RTNETLINK answers: File exists\nCommand failed -:${opts.failBatchLine}\n`,
        };
      return { exitCode: 0, stdout: "", stderr: "" };
    },
  };
}

function ctx(runner: Runner) {
  const run = mkdtempSync(join(tmpdir(), "vnat-undo-"));
  dirs.push(run);
  // the namespace's resolv.conf goes to the temp dir too, never to the host's /etc/netns
  return { runner, roots: { run, config: "/nonexistent", log: run, netnsEtc: run } };
}

describe("startNetwork undo", () => {
  test("a failure at host batch line 3 (the uplink macvlan) deletes the namespace, which holds lan0", async () => {
    const runner = recorder({ failBatchLine: 3 });
    const c = ctx(runner);
    await assert.rejects(startNetwork(c, spec), (e: unknown) => {
      assert.ok(e instanceof VnatError);
      assert.equal(e.kind, "apply-failed");
      assert.equal(
        e.message,
        `start network "undo": step "links" failed: "ip link add link vt-nonexist1 name wan0 address 02:76:c6:33:64:0b netns vnat-undo type macvlan mode bridge": RTNETLINK answers: File exists (everything undone)`,
      );
      return true;
    });
    const rest = runner.calls.slice(runner.calls.findIndex((l) => l.startsWith("ip -batch")) + 1);
    assert.deepEqual(rest, ["ip netns pids vnat-undo", DEL_NETNS]);
    // nothing of vnat's state is left behind
    assert.deepEqual(readdirSync(join(c.roots.run, "net")), []);
    assert.deepEqual(readdirSync(join(c.roots.run, "claims")), []);
  });

  test("a provider that forces veths: the uplink is a veth pair, its failure names the veth line", async () => {
    const runner = recorder({ failBatchLine: 3 });
    const vethSpec = { ...spec, uplink: { ...spec.uplink, attach: "veth" as const } };
    await assert.rejects(
      startNetwork(ctx(runner), vethSpec),
      new RegExp(
        `step "links" failed: "ip link add ${spec.names.uplinkHost} type veth peer name wan0 address 02:76:c6:33:64:0b netns vnat-undo": RTNETLINK`,
      ),
    );
    // "auto" would have asked whether the bridge has an address; a forced choice does not
    assert.ok(!runner.calls.some((l) => l.includes("addr show")));
  });

  test("a failing fdb entry fails the links step and undoes the namespace", async () => {
    const runner = recorder({ failCmd: "bridge -batch" });
    await assert.rejects(
      startNetwork(ctx(runner), spec),
      /step "links" failed: bridge -batch: boom: simulated \(everything undone\)/,
    );
    const rest = runner.calls.slice(runner.calls.findIndex((l) => l.startsWith("bridge -batch")) + 1);
    assert.deepEqual(rest, ["ip netns pids vnat-undo", DEL_NETNS]);
  });

  test("a failing nft step runs every undo after the namespace was made", async () => {
    const runner = recorder({ failCmd: "nft -f -" });
    const c = ctx(runner);
    await assert.rejects(startNetwork(c, spec), /step "nftables" failed: boom: simulated \(everything undone\)/);
    const rest = runner.calls.slice(runner.calls.findIndex((l) => l.includes("nft -f -")) + 1);
    // the namespace's undo: its processes first, then the namespace; dnsmasq never started
    assert.deepEqual(rest, ["ip netns pids vnat-undo", DEL_NETNS]);
    assert.ok(!runner.calls.some((l) => l.includes("dnsmasq")));
  });

  test("a MAC still held by a freed namespace of the network: the address step waits and retries", async () => {
    let busy = 2;
    const calls: string[] = [];
    const runner: Runner = {
      async run(cmd, args) {
        calls.push([cmd, ...args].join(" "));
        if (args.join(" ") === "-n vnat-undo -batch -" && busy-- > 0)
          return { exitCode: 2, stdout: "", stderr: "RTNETLINK answers: Address already in use\nCommand failed -:3\n" };
        return { exitCode: 0, stdout: "", stderr: "" };
      },
    };
    await startNetwork({ ...ctx(runner), failpoint: undefined }, spec).catch(() => {});
    assert.equal(calls.filter((c) => c === "ip -n vnat-undo -batch -").length, 3);
  });

  test("any other address error fails at once", async () => {
    const runner = recorder({ failCmd: "-n vnat-undo -batch -" });
    await assert.rejects(
      startNetwork(ctx(runner), spec),
      /step "addresses" failed: ip -batch: boom: simulated \(everything undone\)/,
    );
    assert.equal(runner.calls.filter((c) => c.startsWith("ip -n vnat-undo -batch -")).length, 1);
  });

  test("the failpoint fails right after the named step's stage (sysctl, addresses and nftables run at once)", async () => {
    const runner = recorder({});
    const c = ctx(runner);
    await assert.rejects(
      startNetwork({ ...c, failpoint: "addresses" }, spec),
      /step "addresses" failed: injected failure \(VNAT_FAILPOINT\)/,
    );
    assert.ok(
      runner.calls.some((l) => l.includes("nft")),
      "the ruleset loads beside the addresses",
    );
    assert.ok(!runner.calls.some((l) => l.includes("dnsmasq")), "dnsmasq waits for the addresses");
  });
});

describe("ip -batch without a line number", () => {
  test("an argument error (exit 255) still undoes every line and names the failing one", async () => {
    const calls: string[] = [];
    const runner: Runner = {
      async run(cmd, args) {
        calls.push([cmd, ...args].join(" "));
        if (args.join(" ") === "-batch -")
          return {
            exitCode: 255,
            stdout: "",
            stderr: `Error: argument "vt-nonexist0" is wrong: Device does not exist\n`,
          };
        return { exitCode: 0, stdout: "", stderr: "" };
      },
    };
    await assert.rejects(
      startNetwork(ctx(runner), spec),
      new RegExp(
        `step "links" failed: "ip link add link vt-nonexist0 name lan0 address [0-9a-f:]+ netns vnat-undo type macvlan mode bridge": Error: argument`,
      ),
    );
    assert.deepEqual(calls.slice(calls.indexOf("ip -batch -") + 1), ["ip netns pids vnat-undo", DEL_NETNS]);
  });
});
