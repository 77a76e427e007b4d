// `vnat net show` of a dual-stack network (issue 17, core/observe/netshow6.ts): the IPv6
// settings in the JSON and as rows beside the IPv4 ones (running values when they differ);
// an IPv4-only network's document has no ipv6 key and its text no IPv6 rows.
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfig } from "../../src/core/input/config.ts";
import { buildSpec } from "../../src/core/input/spec.ts";
import { parseNetworkXml } from "../../src/core/observe/inventory.ts";
import { formatShow, settingsDoc, showDoc } from "../../src/core/observe/netshow.ts";
import { settings6Doc } from "../../src/core/observe/netshow6.ts";
import { networkXml } from "../support/fixtures.ts";

const config = parseConfig(
  "t",
  JSON.stringify({ providers: [{ bridge: "br-prov", gateway: "198.51.100.1/24", gateway6: "2001:db8:100::1/64" }] }),
);
const specOf = (v6: string) =>
  buildSpec(
    parseNetworkXml(
      networkXml({
        name: "net6",
        bridge: "virbr6",
        uplinkBridge: "br-prov",
        uplink: "198.51.100.10/24",
        gateway: "198.51.100.1",
        extraMetadata: v6,
      }),
    ),
    config,
  );
const nat66 = specOf(
  `<vnat:lan6 address="fd00:a::1/64" dhcp6="yes"/><vnat:uplink6 address="2001:db8:100::10/64"/><vnat:forward6 proto="tcp" port="8080" to="fd00:a::5" to-port="80"/>`,
);
const routed = specOf(
  `<vnat:lan6 address="2001:db8:300::1/64"/><vnat:uplink6 address="2001:db8:100::11/64" mode="routed"/>`,
);
const v4 = specOf("");

test("the ipv6 settings: only for a dual-stack network", () => {
  assert.deepEqual(settings6Doc(nat66).ipv6, {
    lan: "fd00:a::1/64",
    dhcp6: true,
    uplink: { address: "2001:db8:100::10/64", gateway: "2001:db8:100::1", mode: "nat66", prefix: null },
    dns: [],
    upstreamRoute: null,
    forwards: [{ proto: "tcp", port: "8080", to: "[fd00:a::5]:80" }],
    floating: [],
  });
  assert.equal(settings6Doc(routed).ipv6?.upstreamRoute, "2001:db8:300::/64 via 2001:db8:100::11");
  assert.equal("ipv6" in settingsDoc(v4), false);
});

test("the text: IPv6 rows, the running value beside a differing configured one; none for IPv4-only", () => {
  const text = formatShow(showDoc("net6", { spec: nat66 }, routed, undefined, []));
  assert.match(
    text,
    /^ {2}subnet6 +fd00:a::1\/64, router advertisements \+ DHCPv6 {3}\(running: 2001:db8:300::1\/64, router advertisements\)$/m,
  );
  assert.match(
    text,
    /^ {2}uplink6 +2001:db8:100::10\/64 via 2001:db8:100::1, nat66 {3}\(running: 2001:db8:100::11\/64 via 2001:db8:100::1, routed 2001:db8:300::\/64\)$/m,
  );
  assert.match(
    text,
    /^ {2}route6 +- {3}\(running: 2001:db8:300::\/64 via 2001:db8:100::11 \(on the provider's router\)\)$/m,
  );
  assert.match(text, /^ {2}forwards6 +tcp 8080 -> \[fd00:a::5\]:80/m);
  assert.doesNotMatch(formatShow(showDoc("net4", { spec: v4 }, v4, undefined, [])), /subnet6|uplink6/);
  assert.match(
    formatShow(showDoc("net6", { spec: v4 }, nat66, undefined, [])),
    /^ {2}subnet6 +off {3}\(running: fd00:a::1\/64/m,
  );
});
