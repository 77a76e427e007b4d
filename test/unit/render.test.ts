import { describe, test } from "node:test";
import { EMPTY_CONFIG } from "../../src/core/input/config.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { netPaths } from "../../src/core/paths.ts";
import {
  attachFdb,
  renderDnsmasqArgs,
  renderHostBatch,
  renderNetnsBatch,
  renderNft,
  renderSysctls,
} from "../../src/core/plan/render.ts";
import { lanMac } from "../../src/core/names.ts";
import assert from "node:assert/strict";
import { buildSpec } from "../../src/core/input/spec.ts";
import { assertGolden } from "../support/golden.ts";
import { hookData } from "../support/fixtures.ts";

const spec = buildSpec(
  parseHookData(
    hookData({
      name: "golden",
      bridge: "virbr5",
      uplinkBridge: "br-prov",
      uplink: "198.51.100.11/24",
      gateway: "198.51.100.1",
      dns: ["198.18.0.10", "198.18.0.11"],
      dhcp: `<vnat:dhcp start="10.0.0.100" end="10.0.0.200" lease="2h"/>`,
    }),
  ).network,
  EMPTY_CONFIG,
);
const paths = netPaths({ run: "/run/vnat", config: "/etc/vnat/config.json", log: "/var/log/vnat" }, "golden");

const MACVLANS = { lan: "macvlan", uplink: "macvlan" } as const;
const VETH_UPLINK = { lan: "macvlan", uplink: "veth" } as const;

describe("renderers (golden)", () => {
  test("host ip batch: macvlans", () =>
    assertGolden(
      "host.batch",
      renderHostBatch(spec, MACVLANS)
        .map((l) => l.line)
        .join("\n") + "\n",
    ));
  test("host ip batch: veth uplink", () =>
    assertGolden(
      "host-veth.batch",
      renderHostBatch(spec, VETH_UPLINK)
        .map((l) => l.line)
        .join("\n") + "\n",
    ));
  test("fdb entries: one per macvlan, none for a veth", () => {
    assert.deepEqual(attachFdb(spec, MACVLANS), [
      { bridge: "virbr5", mac: lanMac("golden") },
      { bridge: "br-prov", mac: "02:76:c6:33:64:0b" },
    ]);
    assert.deepEqual(attachFdb(spec, VETH_UPLINK), [{ bridge: "virbr5", mac: lanMac("golden") }]);
  });
  test("namespace ip batch", () => assertGolden("netns.batch", renderNetnsBatch(spec).join("\n") + "\n"));
  test("sysctls", () => assertGolden("sysctl.txt", renderSysctls().join("\n") + "\n"));
  test("nftables ruleset", () => assertGolden("ruleset.nft", renderNft(spec, [])));
  test("dnsmasq argv", () => assertGolden("dnsmasq.argv", renderDnsmasqArgs(spec, paths).join("\n") + "\n"));
  test("dnsmasq argv without dhcp", () => {
    const noDhcp = { ...spec, dhcp: undefined };
    assertGolden("dnsmasq-nodhcp.argv", renderDnsmasqArgs(noDhcp, paths).join("\n") + "\n");
  });
});
