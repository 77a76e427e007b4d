// core/input/policy6.ts: IPv6 uplinks only where the config names an IPv6 subnet (strictUplinks).
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseConfig, type Config } from "../../src/core/input/config.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { checkPolicy } from "../../src/core/input/policy.ts";
import { checkPolicy6 } from "../../src/core/input/policy6.ts";
import { buildSpec } from "../../src/core/input/spec.ts";
import { hookData } from "../support/fixtures.ts";

const V6 = { gateway6: "2001:db8:100::1/64", pool6: "2001:db8:100::100-2001:db8:100::1ff" };
const config = (provider: object, extra: object = {}): Config =>
  parseConfig(
    "c.json",
    JSON.stringify({ providers: [{ bridge: "br-prov", gateway: "198.51.100.1/24", ...provider }], ...extra }),
  );
const spec = (up6: string, more = "") =>
  buildSpec(
    parseHookData(
      hookData({
        name: "p6",
        bridge: "virbr9",
        uplinkBridge: "br-prov",
        uplink: "198.51.100.150/24",
        extraMetadata: `<vnat:lan6 address="fd00:a::1/64"/><vnat:uplink6 address="${up6}/64" gateway="2001:db8:100::1"${more}/>`,
      }),
    ).network,
    parseConfig("c.json", JSON.stringify({ providers: [{ bridge: "br-prov", gateway: "198.51.100.1/24", ...V6 }] })),
  );
const host = { hostAddrs: [], vnatLanBridges: new Map<string, string>() };
const W = `network "p6"`;

test("accepted inside the provider's IPv6 subnet; an IPv4-only network is not looked at", () => {
  checkPolicy(spec("2001:db8:100::10"), config(V6), host);
  const inPool = config({ ...V6, pool: "198.51.100.100-198.51.100.199", uplinksInPool: true });
  checkPolicy6(spec("2001:db8:100::100"), inPool);
  const v4only = buildSpec(
    parseHookData(hookData({ name: "p4", bridge: "virbr9", uplinkBridge: "br-prov", uplink: "198.51.100.150/24" }))
      .network,
    config({}),
  );
  checkPolicy6(v4only, config({}));
});

test("strict: a provider without gateway6 takes no uplink6", () =>
  assert.throws(
    () => checkPolicy(spec("2001:db8:100::10"), config({}), host),
    (e: Error) =>
      e.message ===
      `${W}: provider "br-prov" has no gateway6 in the config (allowed: IPv6 uplinks only inside a provider's configured IPv6 subnet; add one with vnat provider add --gateway6, or set "strictUplinks": false)`,
  ));

test("not strict: allowed", () => checkPolicy6(spec("2001:db8:100::10"), config({}, { strictUplinks: false })));

test("uplinksInPool: the uplink6 must come from pool6", () =>
  assert.throws(
    () =>
      checkPolicy6(
        spec("2001:db8:100::10"),
        config({ ...V6, pool: "198.51.100.100-198.51.100.199", uplinksInPool: true }),
      ),
    (e: Error) =>
      e.message ===
      `${W}: uplink6 2001:db8:100::10 is outside provider "br-prov" pool6 2001:db8:100::100-2001:db8:100::1ff (the provider allows only pool addresses)`,
  ));

test("the gateway6 itself is refused", () =>
  assert.throws(
    () => checkPolicy6(spec("2001:db8:100::5", ` mode="nat66"`), config({ ...V6, gateway6: "2001:db8:100::5/64" })),
    /is provider "br-prov"'s gateway6/,
  ));

test("one of this host's own IPv6 addresses is refused as uplink6 or floating6, whatever the config says", () => {
  const hostAddrs6 = ["2001:db8:100::10", "2001:db8:100::20"];
  for (const cfg of [config(V6), config({}, { strictUplinks: false })])
    assert.throws(
      () => checkPolicy(spec("2001:db8:100:0::0010"), cfg, { ...host, hostAddrs6 }),
      (e: Error) =>
        e.message ===
        `${W}: uplink6 2001:db8:100::10 is an address of this host (allowed: an address no interface of the host holds)`,
    );
  checkPolicy6(spec("2001:db8:100::11"), config(V6), { hostAddrs6 });
  assert.throws(
    () =>
      checkPolicy6(
        buildSpec(
          parseHookData(
            hookData({
              name: "p6",
              bridge: "virbr9",
              uplinkBridge: "br-prov",
              uplink: "198.51.100.150/24",
              extraMetadata: `<vnat:lan6 address="fd00:a::1/64"/><vnat:uplink6 address="2001:db8:100::11/64" mode="nptv6" prefix="2001:db8:101::/64"/><vnat:floating6 address="2001:db8:100::20" to="fd00:a::5"/>`,
            }),
          ).network,
          config(V6),
        ),
        config(V6),
        { hostAddrs6 },
      ),
    /: floating6 2001:db8:100::20 is an address of this host/,
  );
});
