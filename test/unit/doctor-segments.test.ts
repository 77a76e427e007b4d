// src/core/judge/doctor-segments.ts (issue 19): what doctor says stands between a segment's
// hosts and vnat; and the pure readers of src/exec/probe/doctor-segments.ts (Docker's
// isolation rules, drop-by-default forward chains).
import assert from "node:assert/strict";
import { test } from "node:test";
import { judgeSegment, type SegmentFacts } from "../../src/core/judge/doctor-segments.ts";
import { dropForwardChains, isolationRulesFor } from "../../src/exec/probe/doctor-segments.ts";

const base: SegmentFacts = {
  network: "lab",
  label: "docker:ci",
  device: "br-0123456789ab",
  present: true,
  takeAddresses: false,
  lanSubnet: "10.0.0.0/24",
  hostAddresses: [{ cidr: "172.18.0.1/16", inLan: false }],
  dhcpServers: [],
  isolationRules: [],
  callsIptables: true,
  dropForward: [],
};

// what Docker 20.10 adds for an --internal network (iptables -S)
const DOCKER_IPTABLES = `-P FORWARD ACCEPT
-N DOCKER-ISOLATION-STAGE-1
-N DOCKER-ISOLATION-STAGE-2
-A FORWARD -j DOCKER-ISOLATION-STAGE-1
-A DOCKER-ISOLATION-STAGE-1 ! -s 172.18.0.0/16 -o br-0123456789ab -j DROP
-A DOCKER-ISOLATION-STAGE-1 ! -d 172.18.0.0/16 -i br-0123456789ab -j DROP
-A DOCKER-ISOLATION-STAGE-1 -j RETURN
-A DOCKER-ISOLATION-STAGE-2 -o br-0123456789abc -j DROP
`;

test("nothing in the way: one ok line", () => {
  const [c] = judgeSegment(base);
  assert.equal(c!.status, "ok");
  assert.match(c!.message, /^segment docker:ci of lab: br-0123456789ab present \(its frames pass/);
});

test("a missing device fails, and says how to resolve a Docker network again", () => {
  const [c] = judgeSegment({ ...base, present: false });
  assert.equal(c!.status, "fail");
  assert.match(c!.fix!, /vnat attach lab docker:ci \(it resolves the bridge again\)/);
});

test("Docker's isolation chains, another DHCP server, a dropping forward chain, a host address in the subnet", () => {
  const rules = isolationRulesFor("br-0123456789ab", DOCKER_IPTABLES, "");
  assert.deepEqual(rules, [
    "-A DOCKER-ISOLATION-STAGE-1 ! -s 172.18.0.0/16 -o br-0123456789ab -j DROP",
    "-A DOCKER-ISOLATION-STAGE-1 ! -d 172.18.0.0/16 -i br-0123456789ab -j DROP",
  ]);
  const checks = judgeSegment({
    ...base,
    isolationRules: rules,
    dhcpServers: ["dnsmasq (pid 42)"],
    dropForward: dropForwardChains("-P FORWARD DROP\n", [
      { family: "inet", table: "fw", chain: "fwd", policy: "drop" },
    ]),
    hostAddresses: [{ cidr: "10.0.0.1/24", inLan: true }],
  });
  assert.deepEqual(
    checks.map((c) => [c.id, c.status]),
    [
      ["segment-lab-docker:ci-docker-isolation", "warn"],
      ["segment-lab-docker:ci-dhcp", "warn"],
      ["segment-lab-docker:ci-forward", "warn"],
      ["segment-lab-docker:ci-addresses", "warn"],
    ],
  );
  for (const c of checks) assert.ok(!c.message.includes("\n") && c.fix);
  assert.match(checks[0]!.fix!, /vnat does not edit the host's firewall/);
  assert.match(checks[2]!.message, /iptables FORWARD policy DROP, nft inet fw fwd policy drop/);
  assert.match(checks[3]!.fix!, /--take-addresses/);
  // taken while attached: no warning about it
  assert.equal(
    judgeSegment({ ...base, takeAddresses: true, hostAddresses: [{ cidr: "10.0.0.1/24", inLan: true }] })[0]!.status,
    "ok",
  );
});
