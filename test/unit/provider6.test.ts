// core/edit/provider6.ts: what the CLI writes for a provider's IPv6 keys — canonical text
// where a value parses, anything else untouched for the config parser to refuse.
import assert from "node:assert/strict";
import { test } from "node:test";
import { canonicalCidr6, canonicalIp6, canonicalProvider6, canonicalRange6 } from "../../src/core/edit/provider6.ts";

test("canonical text where it parses, the input as given where it does not", () => {
  assert.equal(canonicalCidr6("2001:DB8:100:0:0::1/64"), "2001:db8:100::1/64");
  assert.equal(canonicalCidr6("2001:db8::1"), "2001:db8::1", "no prefix: left for the parser to refuse");
  assert.equal(canonicalIp6(" 2001:0db8::0010 "), "2001:db8::10");
  assert.equal(canonicalIp6("198.51.100.1"), "198.51.100.1");
  assert.equal(canonicalRange6("2001:DB8::0100-2001:db8:0::1FF"), "2001:db8::100-2001:db8::1ff");
  assert.equal(canonicalRange6("2001:db8::1"), "2001:db8::1");
  assert.deepEqual(
    canonicalProvider6({
      bridge: "br0",
      gateway6: "2001:DB8::1/64",
      pool6: "2001:db8::A-2001:db8::B",
      dns6: ["2001:DB8::53"],
    }),
    { bridge: "br0", gateway6: "2001:db8::1/64", pool6: "2001:db8::a-2001:db8::b", dns6: ["2001:db8::53"] },
  );
  const plain: { bridge: string; gateway6?: string } = { bridge: "br0" };
  assert.deepEqual(canonicalProvider6(plain), { bridge: "br0" }, "no IPv6 keys: none added");
});
