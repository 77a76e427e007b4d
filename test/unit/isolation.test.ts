// Isolation rules and the host-address set (core/input/isolation.ts), as renderNft splices them.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EMPTY_CONFIG } from "../../src/core/input/config.ts";
import { VnatError } from "../../src/core/errors.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { parseIp } from "../../src/core/ipv4.ts";
import { renderNft } from "../../src/core/plan/render.ts";
import { buildSpec } from "../../src/core/input/spec.ts";
import { parseFibTrieLocals } from "../../src/exec/probe/host-addrs.ts";
import { hookData, type NetOpts } from "../support/fixtures.ts";

const base: NetOpts = {
  name: "net1",
  bridge: "virbr7",
  uplinkBridge: "br0",
  uplink: "198.51.100.11/24",
  gateway: "198.51.100.1",
  dns: ["198.18.0.10"],
};
const spec = (iso: string) => buildSpec(parseHookData(hookData({ ...base, extraMetadata: iso })).network, EMPTY_CONFIG);
const HOST = ["192.0.2.2", "172.17.0.1", "192.0.2.2"].map((a) => parseIp(a)!);
const HOST_RULE = 'iifname "lan0" ip daddr @host_addrs reject with icmp type admin-prohibited';
const PROVIDER_RULE =
  'iifname "lan0" ip daddr 198.51.100.0/24 ip daddr != 198.51.100.1 reject with icmp type admin-prohibited';

describe("isolation", () => {
  const cases: Array<[string, string, boolean, boolean]> = [
    ["absent: both blocked", "", true, true],
    ["explicitly blocked", `<vnat:isolation host="blocked" provider="blocked"/>`, true, true],
    ["provider open", `<vnat:isolation provider="open"/>`, true, false],
    ["host open", `<vnat:isolation host="open"/>`, false, true],
    ["both open", `<vnat:isolation host="open" provider="open"/>`, false, false],
  ];
  for (const [what, iso, host, provider] of cases)
    test(what, () => {
      const nft = renderNft(spec(iso), HOST);
      assert.equal(nft.includes(HOST_RULE), host);
      assert.equal(nft.includes("set host_addrs {"), host);
      assert.equal(nft.includes(PROVIDER_RULE), provider);
    });

  test("the host set lists each address once, sorted, and is declared empty when there are none", () => {
    assert.match(
      renderNft(spec(""), HOST),
      /set host_addrs \{\n {4}type ipv4_addr\n {4}elements = \{ 172\.17\.0\.1, 192\.0\.2\.2 \}\n {2}\}/,
    );
    assert.match(renderNft(spec(""), []), /set host_addrs \{\n {4}type ipv4_addr\n {2}\}/);
  });

  test("the rules come after established traffic is accepted and before DNATed traffic is", () => {
    const nft = renderNft(spec(`<vnat:forward proto="tcp" port="80" to="10.0.0.5"/>`), HOST);
    const at = (s: string) => nft.indexOf(s);
    assert.ok(
      at('ct state established,related accept\n    ct state invalid drop\n    iifname "lan0" ip daddr @host_addrs') >
        at("chain forward"),
    );
    assert.ok(at(PROVIDER_RULE) < at("ct status dnat accept"));
  });

  test("a value other than blocked/open is refused", () => {
    assert.throws(
      () => spec(`<vnat:isolation provider="none"/>`),
      (e: unknown) =>
        e instanceof VnatError &&
        e.message === 'network "net1": isolation provider="none" (expected "blocked" or "open")',
    );
  });
});

describe("the host's addresses from /proc/net/fib_trie", () => {
  const trie = `Main:
  +-- 0.0.0.0/0 3 0 5
     |-- 0.0.0.0
        /0 universe UNICAST
     +-- 127.0.0.0/8 2 0 2
        +-- 127.0.0.0/31 1 0 0
           |-- 127.0.0.0
              /8 host LOCAL
           |-- 127.0.0.1
              /32 host LOCAL
        |-- 127.255.255.255
           /32 link BROADCAST
     +-- 192.0.2.0/24 2 0 2
        +-- 192.0.2.0/30 2 0 2
           |-- 192.0.2.0
              /24 link UNICAST
           |-- 192.0.2.2
              /32 host LOCAL
        |-- 192.0.2.255
           /32 link BROADCAST
Local:
  +-- 0.0.0.0/0 3 0 5
     +-- 10.9.0.0/24 2 0 2
        |-- 10.9.0.7
           /24 link UNICAST
           /32 host LOCAL
`;
  test("local /32 entries only, each once (broadcast, network and route entries are not addresses)", () => {
    assert.deepEqual(
      parseFibTrieLocals(trie).sort((a, b) => a - b),
      ["10.9.0.7", "127.0.0.1", "192.0.2.2"].map((a) => parseIp(a)!),
    );
  });
});
