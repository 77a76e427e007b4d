// The host's IPv6 addresses as the ruleset's host6_addrs set takes them (exec/probe/host-addrs6.ts).
import assert from "node:assert/strict";
import { test } from "node:test";
import { parseIfInet6, probeHostAddresses6 } from "../../src/exec/probe/host-addrs6.ts";
import type { NetSpec } from "../../src/core/input/spec.ts";
import type { Runner } from "../../src/exec/run.ts";

test("parseIfInet6: canonical, sorted, no loopback or link-local", () => {
  const text = [
    "00000000000000000000000000000001 01 80 10 80       lo",
    "fd000000000000000000000000000002 04 40 00 82     eth0",
    "fe8000000000000000fc00fffe000001 04 40 20 80     eth0",
    "20010db8010000000000000000000005 05 40 00 80     br0",
    "fd000000000000000000000000000002 06 40 00 82     eth1",
    "garbage",
    "",
  ].join("\n");
  assert.deepEqual(parseIfInet6(text), ["2001:db8:100::5", "fd00::2"]);
});

test("probeHostAddresses6: nothing asked for a network without IPv6; a stand-in namespace read by ip -j", async () => {
  const calls: string[][] = [];
  const runner = {
    run: async (cmd: string, args: string[]) => {
      calls.push([cmd, ...args]);
      return {
        exitCode: 0,
        stderr: "",
        stdout: JSON.stringify([
          { addr_info: [{ local: "2001:DB8:100::50" }, { local: "fe80::1" }, { local: "::1" }] },
        ]),
      };
    },
  } as unknown as Runner;
  assert.deepEqual(await probeHostAddresses6(runner, {} as NetSpec, { VNAT_HOST_NETNS: "h" }), []);
  assert.equal(calls.length, 0);
  const v6 = { v6: {} } as unknown as NetSpec;
  assert.deepEqual(await probeHostAddresses6(runner, v6, { VNAT_HOST_NETNS: "h" }), ["2001:db8:100::50"]);
  assert.deepEqual(calls, [["ip", "-n", "h", "-j", "-6", "addr", "show"]]);
});
