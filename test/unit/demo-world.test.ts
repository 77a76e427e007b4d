// `vnat demo`'s sandbox (src/demo/world.ts) over a fake Runner: teardown finds its objects by
// tag alone and removes them in order (processes, namespaces, links with bridges last),
// never another world's or anyone's; a failed build removes what it made. The real thing
// runs in test/e2e/demo.test.ts.
import assert from "node:assert/strict";
import { existsSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { describe, test } from "node:test";
import { createDemoWorld, demoWorldDebris, destroyDemoWorld } from "../../src/demo/world.ts";
import type { RunResult, Runner } from "../../src/exec/run.ts";

const TAG = "zq9";

/** A host with namespaces, links (name → bridge?) and processes per namespace, as ip(8) shows them. */
function fakeHost(o: { netns: string[]; links: Record<string, boolean>; pids: Record<string, number[]> }) {
  const calls: string[] = [];
  const ok = (stdout = ""): RunResult => ({ exitCode: 0, stdout, stderr: "" });
  const runner: Runner = {
    async run(cmd, args) {
      const line = [cmd, ...args].join(" ");
      calls.push(line);
      if (line === "ip -j netns list") return ok(JSON.stringify(o.netns.map((name) => ({ name }))));
      if (line === "ip -j -d link show")
        return ok(
          JSON.stringify(
            Object.entries(o.links).map(([ifname, bridge]) => ({
              ifname,
              ...(bridge ? { linkinfo: { info_kind: "bridge" } } : {}),
            })),
          ),
        );
      const pids = /^ip netns pids (\S+)$/.exec(line);
      if (pids) return ok((o.pids[pids[1]!] ?? []).join("\n"));
      if (cmd === "kill") {
        for (const ns of Object.keys(o.pids))
          o.pids[ns] = o.pids[ns]!.filter((p) => !args.slice(1).includes(String(p)));
        return ok();
      }
      const del = /^ip netns del (\S+)$/.exec(line);
      if (del) {
        o.netns = o.netns.filter((n) => n !== del[1]);
        return ok();
      }
      const linkDel = /^ip link del (\S+)$/.exec(line);
      if (linkDel) {
        delete o.links[linkDel[1]!];
        return ok();
      }
      return { exitCode: 1, stdout: "", stderr: `fake host: no answer for ${line}\n` };
    },
  };
  return { runner, calls };
}

describe("vnat demo's sandbox", () => {
  test("teardown by tag: processes, then namespaces, then links with the bridge last; nothing of others", async () => {
    const host = fakeHost({
      netns: [`vt-${TAG}-router`, `vt-${TAG}-inet`, `vt-${TAG}-g1`, "vt-zq99-router", "vnat-net1"],
      links: {
        eth0: false,
        [`vtp-${TAG}`]: true,
        [`vtr-${TAG}`]: false,
        [`vtg-${TAG}1`]: false,
        "vtp-zq99": true,
        "vtg-zq91x": false,
      },
      pids: { [`vt-${TAG}-inet`]: [4101, 4102] },
    });
    await destroyDemoWorld(TAG, host.runner);
    const at = (line: string): number => host.calls.indexOf(line);
    assert.ok(at("kill -TERM 4101 4102") >= 0, host.calls.join("\n"));
    assert.ok(at("kill -TERM 4101 4102") < at(`ip netns del vt-${TAG}-inet`));
    for (const ns of ["router", "inet", "g1"]) assert.ok(at(`ip netns del vt-${TAG}-${ns}`) >= 0, ns);
    assert.ok(at(`ip link del vtr-${TAG}`) < at(`ip link del vtp-${TAG}`), "the bridge goes after its ports");
    assert.ok(at(`ip link del vtg-${TAG}1`) < at(`ip link del vtp-${TAG}`));
    const touched = host.calls.filter((c) => /zq99|zq91x|vnat-net1|eth0/.test(c) && !c.startsWith("ip -j"));
    assert.deepEqual(touched, [], "another world's or anyone's objects");
    assert.deepEqual(await demoWorldDebris(TAG, host.runner), []);
  });

  test("a bad tag is refused in one line before anything runs", async () => {
    const host = fakeHost({ netns: [], links: {}, pids: {} });
    await assert.rejects(createDemoWorld("Demo!", host.runner), (e: Error) => {
      assert.equal(e.message, 'demo: tag "Demo!" (VNAT_DEMO_TAG): expected 1-6 of [a-z0-9]');
      return true;
    });
    assert.deepEqual(host.calls, []);
  });

  test("a failed build removes what it made and says what failed", async () => {
    const host = fakeHost({ netns: [], links: {}, pids: {} });
    await assert.rejects(createDemoWorld(TAG, host.runner), (e: Error) => {
      assert.match(e.message, new RegExp(`^ip link add vtp-${TAG} type bridge .*: fake host: no answer`));
      assert.doesNotMatch(e.message, /\n/);
      return true;
    });
    assert.ok(host.calls.includes("ip -j netns list"), "teardown ran");
    assert.deepEqual(
      readdirSync(tmpdir()).filter((d) => d.startsWith(`vt-${TAG}-`)),
      [],
      "its temp dir is gone",
    );
    assert.equal(existsSync(`/etc/netns/vt-${TAG}-router`), false);
  });
});
