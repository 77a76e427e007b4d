// core/judge/doctor-ipv6.ts: `vnat doctor`'s verdicts on the kernel's IPv6 — a problem fails
// when a vnat network has an IPv6 side, warns while none has, and each names its fix.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  judgeFirewall6,
  judgeIpv6,
  type Firewall6Facts,
  type Ipv6KernelFacts,
} from "../../src/core/judge/doctor-ipv6.ts";

const good: Ipv6KernelFacts = {
  present: true,
  disabledAll: false,
  disabledDefault: false,
  forwarding: null,
  nat: null,
  cmdlineDisabled: false,
};

test("all good: three ok checks, whether or not a network uses IPv6", () => {
  for (const using of [[], ["a"]]) {
    const c = judgeIpv6(good, using);
    assert.deepEqual(
      c.map((x) => [x.id, x.status]),
      [
        ["kernel-ipv6", "ok"],
        ["kernel-ipv6-forwarding", "ok"],
        ["kernel-nft6", "ok"],
      ],
    );
  }
});

test("IPv6 off at boot: one check, fail naming the networks, the fix names the command line", () => {
  const f = {
    ...good,
    present: false,
    presentError: "sysctl: cannot stat /proc/sys/net/ipv6/conf/all/disable_ipv6",
    cmdlineDisabled: true,
  };
  const [c, ...rest] = judgeIpv6(f, ["a", "b"]);
  assert.deepEqual(rest, []);
  assert.equal(c!.status, "fail");
  assert.equal(c!.message, "kernel: IPv6 is switched off at boot (ipv6.disable=1) (a, b use IPv6)");
  assert.match(c!.fix!, /ipv6\.disable=1/);
  const w = judgeIpv6(f, [])[0]!;
  assert.equal(w.status, "warn");
  assert.match(w.message, /cannot have IPv6$/);
});

test("no IPv6 in the kernel at all: the sysctl error is shown", () => {
  const c = judgeIpv6({ ...good, present: false, presentError: "sysctl: cannot stat x" }, ["a"])[0]!;
  assert.equal(c.message, "kernel: a new network namespace has no IPv6 (sysctl: cannot stat x) (a uses IPv6)");
  assert.equal(c.fix, "use a kernel with CONFIG_IPV6");
});

test("inherited disable_ipv6, forwarding and NAT refused: each its own check with its fix", () => {
  const c = judgeIpv6(
    {
      ...good,
      disabledAll: true,
      disabledDefault: true,
      forwarding: "permission denied",
      nat: "Error: Could not process rule: No such file or directory",
    },
    ["n1"],
  );
  assert.deepEqual(
    c.map((x) => [x.id, x.status]),
    [
      ["kernel-ipv6", "fail"],
      ["kernel-ipv6-forwarding", "fail"],
      ["kernel-nft6", "fail"],
    ],
  );
  assert.match(c[0]!.message, /net\.ipv6\.conf\.all\/default\.disable_ipv6=1/);
  assert.match(c[0]!.fix!, /devconf_inherit_init_net=0/);
  assert.match(c[1]!.message, /permission denied \(n1 uses IPv6\)$/);
  assert.match(c[2]!.message, /No such file or directory/);
  assert.match(c[2]!.fix!, /IP6_NF_NAT/);
  // only the default one inherited
  assert.match(judgeIpv6({ ...good, disabledDefault: true }, [])[0]!.message, /conf\.default\.disable_ipv6=1/);
  assert.equal(judgeIpv6({ ...good, disabledDefault: true }, [])[0]!.status, "warn");
});

describe("firewall6: bridged IPv6 and the host's forward chains", () => {
  const base: Firewall6Facts = {
    bridgeNfCall6: true,
    ip6tables: "-P INPUT ACCEPT\n-P FORWARD ACCEPT\n-P OUTPUT ACCEPT\n",
    nftForwardChains: [],
    vethBridges: ["br0"],
  };
  const one = (f: Firewall6Facts, using = ["n6"]) => judgeFirewall6(f, using);

  test("said only when a network uses IPv6", () => {
    assert.deepEqual(one({ ...base, ip6tables: "-P FORWARD DROP\n" }, []), []);
  });

  test("fine: macvlans only, br_netfilter off for IPv6, or forward chains that accept", () => {
    assert.equal(one({ ...base, vethBridges: [] })[0]!.status, "ok");
    assert.match(one({ ...base, bridgeNfCall6: false, ip6tables: "-P FORWARD DROP\n" })[0]!.message, /bypasses/);
    assert.match(one({ ...base, bridgeNfCall6: null })[0]!.message, /bypasses/);
    assert.match(one(base)[0]!.message, /accept by default/);
  });

  test("a drop policy (ip6tables, nft ip6/inet) fails naming the networks; an accept rule for bridged frames makes it fine", () => {
    const drop = one(
      {
        ...base,
        ip6tables: "-P FORWARD DROP\n",
        nftForwardChains: [
          { family: "inet", table: "fw", chain: "fwd", policy: "drop" },
          { family: "ip", table: "f4", chain: "fwd", policy: "drop" },
        ],
      },
      ["a", "b"],
    )[0]!;
    assert.equal(drop.status, "fail");
    assert.equal(
      drop.message,
      "firewall6: br_netfilter passes bridged IPv6 to the host firewall and ip6tables FORWARD policy is DROP, nftables inet fw chain fwd has policy drop: the IPv6 of a, b may be dropped silently",
    );
    assert.match(drop.fix!, /ip6tables -I FORWARD -m physdev --physdev-is-bridged -j ACCEPT/);
    const accepted = one({
      ...base,
      ip6tables: "-P FORWARD DROP\n-A FORWARD -m physdev --physdev-is-bridged -j ACCEPT\n",
    })[0]!;
    assert.equal(accepted.status, "ok");
    assert.match(accepted.message, /but bridged traffic is accepted/);
    assert.equal(one({ ...base, ip6tables: "-N DOCKER-USER\n" })[0]!.status, "fail");
  });
});
