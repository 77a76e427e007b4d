// RPS for vnat's namespace: the kernel's CPU list and bitmap formats, and the one batch
// line that sets the namespace's default mask before its veth ends are made.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { EMPTY_CONFIG } from "../../src/core/config.ts";
import { parseHookData } from "../../src/core/hookdata.ts";
import { renderHostBatch } from "../../src/core/render.ts";
import { parseCpuList, rpsMask } from "../../src/core/rps.ts";
import { buildSpec } from "../../src/core/spec.ts";
import { hookData } from "../support/fixtures.ts";

describe("rps", () => {
  test("CPU lists", () => {
    const cases: Array<[string, number[]]> = [
      ["0\n", [0]],
      ["0-1\n", [0, 1]],
      ["0-3,6,8-9", [0, 1, 2, 3, 6, 8, 9]],
      ["", []],
      ["garbage", []],
    ];
    for (const [text, cpus] of cases) assert.deepEqual(parseCpuList(text), cpus, JSON.stringify(text));
  });

  test("masks", () => {
    const cases: Array<[number[], string | undefined]> = [
      [[], undefined],
      [[0], undefined],
      [[0, 1], "3"],
      [[0, 1, 2, 3, 4, 5, 6, 7], "ff"],
      [[0, 31], "80000001"],
      [[0, 33], "2,00000001"],
      [Array.from({ length: 64 }, (_, i) => i), "ffffffff,ffffffff"],
    ];
    for (const [cpus, mask] of cases) assert.equal(rpsMask(cpus), mask, JSON.stringify(cpus));
  });

  test("the mask is set right after the namespace is made, before any veth", () => {
    const spec = buildSpec(
      parseHookData(
        hookData({
          name: "rps",
          bridge: "virbr5",
          uplinkBridge: "br-prov",
          uplink: "198.51.100.11/24",
          gateway: "198.51.100.1",
        }),
      ).network,
      EMPTY_CONFIG,
    );
    const lines = renderHostBatch(spec, { rpsMask: "3" }).map((l) => l.line);
    assert.deepEqual(lines.slice(0, 3), [
      "netns add vnat-rps",
      "netns exec vnat-rps sysctl -q -w net.core.rps_default_mask=3",
      `link add ${spec.names.lanHost} type veth peer name lan0 netns vnat-rps`,
    ]);
    assert.deepEqual(
      renderHostBatch(spec).map((l) => l.line),
      lines.filter((_, i) => i !== 1),
    );
  });
});
