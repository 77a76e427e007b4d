// Property: a dual-stack document with mutated attribute values (test/support/mutate.ts) is
// either refused in one clean line (invalid input) or renders its IPv6 side — the ip6 table,
// the namespace batch lines, dnsmasq's arguments — only in the shapes a valid document
// renders, every address canonical (core/plan/render6.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_LINE, oneLine, VnatError } from "../../src/core/errors.ts";
import { parseConfig } from "../../src/core/input/config.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { buildSpec, type NetSpec } from "../../src/core/input/spec.ts";
import { formatIp6, parseIp6 } from "../../src/core/ipv6.ts";
import { renderDnsmasqArgs6, renderNetnsBatch6, renderNft6 } from "../../src/core/plan/render6.ts";
import { hookData } from "../support/fixtures.ts";
import { mutateDocument, rng } from "../support/mutate.ts";

const config = parseConfig(
  "c.json",
  JSON.stringify({
    providers: [
      { bridge: "br-prov", gateway: "198.51.100.1/24", gateway6: "2001:db8:100::1/64", dns6: ["2001:db8:200::53"] },
    ],
  }),
);
const DOCS = [
  `<vnat:lan6 address="fd00:a::1/64" dhcp6="yes"/><vnat:uplink6 address="2001:db8:100::11/64" mode="nptv6" prefix="2001:db8:301::/64"/>` +
    `<vnat:floating6 address="2001:db8:100::20" to="fd00:a::10"/><vnat:forward6 proto="udp" port="53" to="fd00:a::10" to-port="5353"/>` +
    `<vnat:dns6 upstream="2001:db8:200::54"/>`,
  `<vnat:lan6 address="2001:db8:300::1/64"/><vnat:uplink6 address="2001:db8:100::12/64" gateway="fe80::1" mode="routed" prefix="2001:db8:300::/64"/>` +
    `<vnat:floating6 address="2001:db8:100::21" to="2001:db8:300::10"/>`,
  `<vnat:lan6 address="fd00:a::1/64"/><vnat:uplink6 address="2001:db8:100::13/64" mode="nat66"/><vnat:forward6 port="22" to="fd00:a::11"/><vnat:forward6 proto="udp" port="6000-6010" to="fd00:a::12"/>`,
].map((extra) =>
  hookData({ name: "h6", bridge: "virbr9", uplinkBridge: "br-prov", uplink: "198.51.100.31/24", extraMetadata: extra }),
);

/** Every IPv6-looking token must be canonical; then tokens become placeholders: the line's shape. */
function shape(line: string): string {
  const out = line.replace(
    /(?<![\w:.\]-])([0-9a-f]*:[0-9a-f]*:[0-9a-f:.]*)(\/\d+)?/g,
    (_m, addr: string, len?: string) => {
      const ip = parseIp6(addr);
      assert.ok(ip !== undefined && formatIp6(ip) === addr, `not a canonical IPv6 address: ${addr} in ${line}`);
      return `ADDR${len ? "/N" : ""}`;
    },
  );
  return out
    .replace(/fip_[0-9a-z_]+|fwd_[a-z]+_[0-9_]+/g, "COUNTER")
    .replace(/\b\d+\b/g, "N")
    .replace(/\b(tcp|udp)\b/g, "PROTO");
}
const shapes = (s: NetSpec): string[] =>
  [...renderNft6(s, ["fd00::2"]).split("\n"), ...renderNetnsBatch6(s.v6!), ...renderDnsmasqArgs6(s)].map(shape);

const allowed = new Set(DOCS.flatMap((d) => shapes(buildSpec(parseHookData(d).network, config))));

test("mutated dual-stack documents: refused in one clean line, or rendered in known shapes", () => {
  const seed = Number(process.env.VNAT_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const r = rng(seed);
  let rendered = 0;
  let refused = 0;
  for (let i = 0; i < 2000; i++) {
    const { doc } = mutateDocument(r, DOCS[i % DOCS.length]!);
    let spec: NetSpec;
    try {
      spec = buildSpec(parseHookData(doc).network, config);
    } catch (e) {
      assert.ok(e instanceof VnatError && e.kind === "invalid-input", `#${i} (seed ${seed}) threw ${String(e)}`);
      const line = oneLine(e);
      assert.ok(
        line.length <= MAX_LINE && /^[\x20-\x7e…]+$/.test(line),
        `#${i} (seed ${seed}): ${JSON.stringify(line)}`,
      );
      refused++;
      continue;
    }
    if (!spec.v6) continue;
    for (const s of shapes(spec)) assert.ok(allowed.has(s), `#${i} (seed ${seed}) rendered an unknown shape: ${s}`);
    rendered++;
  }
  assert.ok(refused > 100 && rendered > 10, `refused ${refused}, rendered ${rendered}`);
});
