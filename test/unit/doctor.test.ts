// `vnat doctor`'s pure verdicts: versions, the hook, and the host firewall.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { atLeast, judgeLibvirt, judgeTool, parseVersion, TOOLS } from "../../src/core/judge/doctor.ts";
import {
  judgeFirewall,
  judgeHook,
  judgeNetfilterAttach,
  type FirewallFacts,
  type HookFacts,
} from "../../src/core/judge/doctor-host.ts";
import { formatChecks } from "../../src/cli/doctor/run.ts";

const tool = (cmd: string) => TOOLS.find((t) => t.cmd === cmd)!;

describe("doctor: versions", () => {
  test("banners", () => {
    assert.deepEqual(parseVersion("ip utility, iproute2-6.1.0, libbpf 1.1.2"), [6, 1, 0]);
    assert.deepEqual(parseVersion("nftables v1.0.6 (Lester Gooch #5)"), [1, 0, 6]);
    assert.deepEqual(parseVersion("Dnsmasq version 2.90  Copyright (c) 2000-2024 Simon Kelley"), [2, 90, 0]);
    assert.deepEqual(parseVersion("arping from iputils 20221126"), [20221126]);
    assert.equal(parseVersion("no digits"), undefined);
    assert.ok(atLeast([6, 5, 0], [6, 5]) && atLeast([9, 0, 0], [6, 5]) && !atLeast([6, 4, 9], [6, 5]));
  });

  test("tools: missing, old, fine; an optional tool only warns", () => {
    assert.deepEqual(judgeTool(tool("nft"), undefined), {
      id: "tool-nft",
      status: "fail",
      message: "nft: not found",
      fix: "apt-get install nftables",
    });
    assert.equal(judgeTool(tool("arping"), undefined).status, "warn");
    assert.equal(judgeTool(tool("ip"), "ip utility, iproute2-ss190107").status, "warn");
    assert.equal(judgeTool(tool("dnsmasq"), "Dnsmasq version 2.76").status, "fail");
    assert.deepEqual(judgeTool(tool("ip"), "ip utility, iproute2-6.1.0"), {
      id: "tool-ip",
      status: "ok",
      message: "ip: iproute2 6.1.0",
    });
  });

  test("libvirt: unreachable, too old for network.d hooks, fine", () => {
    assert.equal(judgeLibvirt(undefined, "failed to connect").status, "fail");
    assert.match(judgeLibvirt("/usr/sbin/libvirtd (libvirt) 6.0.0").message, /need libvirt 6\.5 or newer/);
    assert.equal(judgeLibvirt("/usr/sbin/libvirtd (libvirt) 9.0.0").status, "ok");
  });
});

describe("doctor: hook", () => {
  const base: HookFacts = {
    path: "/etc/libvirt/hooks/network.d/vnat",
    exists: true,
    executable: true,
    runs: true,
    daemon: { name: "libvirtd", pid: 77, startedAt: 2000 },
    hooksSince: 1000,
    ranForActive: false,
  };
  const statuses = (h: HookFacts) => judgeHook(h).map((c) => `${c.id}:${c.status}`);
  test("missing, not executable, broken", () => {
    assert.deepEqual(statuses({ ...base, exists: false }), ["hook:fail"]);
    assert.deepEqual(statuses({ ...base, executable: false }), ["hook:fail"]);
    assert.deepEqual(statuses({ ...base, runs: false, runError: "vnat: hook bundle not found" }), [
      "hook:fail",
      "hook-seen:ok",
    ]);
  });
  test("seen by the daemon: by evidence, by age, or a warning with the signal to send", () => {
    assert.deepEqual(statuses(base), ["hook:ok", "hook-seen:ok"]);
    assert.deepEqual(statuses({ ...base, hooksSince: 3000, ranForActive: true }), ["hook:ok", "hook-seen:ok"]);
    const late = judgeHook({ ...base, hooksSince: 3000 })[1]!;
    assert.equal(late.status, "warn");
    assert.equal(late.fix, "kill -HUP 77 (or restart libvirtd)");
  });
});

describe("doctor: host firewall", () => {
  const base: FirewallFacts = {
    bridgeNfCall: true,
    iptables: "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n",
    nftForwardChains: [],
    vethBridges: ["br-prov"],
  };
  const verdict = (f: Partial<FirewallFacts>) => judgeFirewall({ ...base, ...f }).map((c) => c.status);
  test("FORWARD policy DROP with br_netfilter fails; without br_netfilter it does not matter", () => {
    const drop = "-P FORWARD DROP\n";
    assert.deepEqual(verdict({ iptables: drop }), ["fail"]);
    assert.match(judgeFirewall({ ...base, iptables: drop })[0]!.fix!, /physdev-is-bridged/);
    assert.deepEqual(verdict({ iptables: drop, bridgeNfCall: false }), ["ok"]);
    assert.deepEqual(verdict({ iptables: drop, bridgeNfCall: null }), ["ok"]);
  });
  test("uplinks that are all macvlans never pass the forward chains: nothing to check", () => {
    const drop = "-P FORWARD DROP\n-N DOCKER\n";
    const inet = { family: "inet", table: "filter", chain: "forward", policy: "drop" };
    assert.deepEqual(verdict({ iptables: drop, nftForwardChains: [inet], vethBridges: [] }), ["ok"]);
    assert.match(judgeFirewall({ ...base, vethBridges: [] })[0]!.message, /uplinks are macvlans/);
  });
  test("Docker's chains fail unless bridged traffic is accepted", () => {
    const docker = "-P FORWARD ACCEPT\n-N DOCKER\n-N DOCKER-USER\n-A FORWARD -j DOCKER-USER\n";
    assert.deepEqual(verdict({ iptables: docker }), ["fail"]);
    assert.deepEqual(verdict({ iptables: docker + "-A DOCKER-USER -m physdev --physdev-is-bridged -j ACCEPT\n" }), [
      "ok",
    ]);
    assert.deepEqual(verdict({ iptables: "-P FORWARD DROP\n-A FORWARD -i br-prov -j ACCEPT\n" }), ["ok"]);
  });
  test("nftables forward chains with policy drop", () => {
    const inet = { family: "inet", table: "filter", chain: "forward", policy: "drop" };
    assert.deepEqual(verdict({ nftForwardChains: [inet] }), ["fail"]);
    assert.deepEqual(verdict({ nftForwardChains: [inet], bridgeNfCall: false }), ["ok"]);
    assert.deepEqual(verdict({ nftForwardChains: [{ ...inet, family: "bridge" }], bridgeNfCall: false }), [
      "fail",
      "ok",
    ]);
  });
  test("one line per check with its fix", () => {
    const text = formatChecks(judgeFirewall({ ...base, iptables: "-P FORWARD DROP\n" }), false);
    assert.match(
      text,
      /^FAIL {2}firewall: br_netfilter passes bridged frames to the host firewall and iptables FORWARD policy is DROP: provider traffic may be dropped silently {2}\(fix: iptables -I FORWARD/,
    );
    assert.match(text, /\n\n1 check\(s\) failed, 0 warning\(s\)\n$/);
  });
});

describe("doctor: br_netfilter and macvlans", () => {
  const none = { globalNfCall: null, forcedMacvlan: [], running: [] };
  test("nothing at risk: which way vnat attaches, by the global switch", () => {
    assert.match(judgeNetfilterAttach({ ...none, globalNfCall: true })[0]!.message, /attaches with veth pairs/);
    assert.match(judgeNetfilterAttach(none)[0]!.message, /br_netfilter not loaded, vnat attaches with macvlans/);
    assert.match(judgeNetfilterAttach({ ...none, globalNfCall: false })[0]!.message, /bridge-nf-call-iptables off/);
    assert.deepEqual(
      judgeNetfilterAttach(none).map((c) => c.status),
      ["ok"],
    );
  });

  test("a running macvlan side on a bridge calling iptables fails, with the restart or the sysctl as its fix", () => {
    const [c] = judgeNetfilterAttach({
      ...none,
      globalNfCall: true,
      running: [{ network: "net1", ifname: "lan0", bridge: "virbr5", forced: false }],
    });
    assert.equal(c!.status, "fail");
    assert.equal(c!.id, "attach-net1");
    assert.match(
      c!.message,
      /^attach: net1's lan0 is a macvlan of virbr5, whose frames pass through the host's iptables/,
    );
    assert.equal(
      c!.fix,
      "restart net1 (virsh net-destroy, net-start: it attaches with veth pairs then), or sysctl -w net.bridge.bridge-nf-call-iptables=0",
    );
    const [forced] = judgeNetfilterAttach({
      ...none,
      running: [{ network: "net1", ifname: "wan0", bridge: "br-prov", forced: true }],
    });
    assert.match(forced!.fix!, /^vnat provider set br-prov attach=auto, then restart net1/);
  });

  test("a provider forcing macvlan on such a bridge warns", () => {
    const checks = judgeNetfilterAttach({ ...none, globalNfCall: true, forcedMacvlan: ["br-prov"] });
    assert.deepEqual(
      checks.map((c) => [c.id, c.status]),
      [["attach-provider-br-prov", "warn"]],
    );
    assert.equal(
      checks[0]!.fix,
      "vnat provider set br-prov attach=auto, or sysctl -w net.bridge.bridge-nf-call-iptables=0",
    );
  });
});
