// core/input/policy.ts: what metadata may ask for, decided by the config. Every refusal is one
// line naming the network, the object and what is allowed.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseConfig, type Config } from "../../src/core/input/config.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { parseIp } from "../../src/core/ipv4.ts";
import { checkPolicy, type HostFacts } from "../../src/core/input/policy.ts";
import { buildSpec } from "../../src/core/input/spec.ts";
import { hookData, type NetOpts } from "../support/fixtures.ts";

const PROVIDER = { bridge: "br-prov", gateway: "198.51.100.1/24", pool: "198.51.100.100-198.51.100.199" };
const config = (extra: object = {}, provider: object = {}): Config =>
  parseConfig("c.json", JSON.stringify({ providers: [{ ...PROVIDER, ...provider }], ...extra }));
const base: NetOpts = {
  name: "n1",
  bridge: "virbr9",
  uplinkBridge: "br-prov",
  uplink: "198.51.100.150/24",
  gateway: "198.51.100.1",
};
const spec = (o: Partial<NetOpts> = {}, c = config({ strictUplinks: false, allowOpenIsolation: true })) =>
  buildSpec(parseHookData(hookData({ ...base, ...o })).network, c);
const host = (addrs: string[] = [], lans: Record<string, string> = {}): HostFacts => ({
  hostAddrs: addrs.map((a) => parseIp(a)!),
  vnatLanBridges: new Map(Object.entries(lans)),
});
const refuses = (fn: () => void, message: string) => assert.throws(fn, (e: Error) => e.message === message);

describe("uplink policy", () => {
  test("an uplink on a listed provider, inside its subnet, is accepted", () => {
    checkPolicy(spec(), config(), host());
  });

  const cases: Array<[string, Partial<NetOpts>, Config, HostFacts, string]> = [
    [
      "a bridge that is not a configured provider",
      { uplinkBridge: "br-other" },
      config(),
      host(),
      `network "n1": uplink bridge "br-other" is not a configured provider (configured: br-prov; add it with vnat provider add, or set "strictUplinks": false in the config)`,
    ],
    [
      "the provider's gateway",
      { uplink: "198.51.100.1/24", gateway: "198.51.100.2" },
      config(),
      host(),
      `network "n1": uplink 198.51.100.1 is provider "br-prov"'s gateway`,
    ],
    [
      "outside the pool where the provider asks for it",
      { uplink: "198.51.100.50/24" },
      config({}, { uplinksInPool: true }),
      host(),
      `network "n1": uplink 198.51.100.50 is outside provider "br-prov" pool 198.51.100.100-198.51.100.199 (the provider allows only pool addresses)`,
    ],
    [
      "the host's own address (whatever the config says)",
      {},
      config({ strictUplinks: false }),
      host(["192.0.2.2", "198.51.100.150"]),
      `network "n1": uplink 198.51.100.150 is an address of this host (allowed: an address no interface of the host holds)`,
    ],
    [
      "another vnat network's LAN bridge (whatever the config says)",
      { uplinkBridge: "vnatbr7" },
      config({ strictUplinks: false }),
      host([], { vnatbr7: "other" }),
      `network "n1": uplink bridge "vnatbr7" is the LAN bridge of vnat network "other" (allowed: a provider bridge)`,
    ],
    [
      "open isolation without the config's consent",
      { extraMetadata: `<vnat:isolation host="open"/>` },
      config(),
      host(),
      `network "n1": isolation host="open" needs "allowOpenIsolation": true in the config (guests would reach this host's own addresses)`,
    ],
  ];
  for (const [what, o, c, h, message] of cases)
    test(`refused: ${what}`, () => refuses(() => checkPolicy(spec(o), c, h), message));

  test("the config opts out: strictUplinks false, allowOpenIsolation true", () => {
    const s = spec({ uplinkBridge: "br-other", extraMetadata: `<vnat:isolation host="open" provider="open"/>` });
    checkPolicy(s, config({ strictUplinks: false, allowOpenIsolation: true }), host());
  });

  test("config keys are checked: booleans only, uplinksInPool needs a pool", () => {
    assert.throws(() => config({ strictUplinks: "no" }), /"strictUplinks" must be true or false, got "no"/);
    assert.throws(() => config({}, { uplinksInPool: true, pool: undefined }), /"uplinksInPool" needs a "pool"/);
  });
});
