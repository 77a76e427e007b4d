// The namespace's resolv.conf (for `vnat exec`): what it says, that it is in place before
// any `ip netns exec` into the namespace, and that a failed start takes it away again.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { EMPTY_CONFIG } from "../../src/core/input/config.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { netnsResolvConfPath } from "../../src/core/paths.ts";
import { renderResolvConf } from "../../src/core/plan/resolv.ts";
import { buildSpec } from "../../src/core/input/spec.ts";
import { startNetwork } from "../../src/exec/change/apply.ts";
import type { RunResult, Runner } from "../../src/exec/run.ts";
import { hookData } from "../support/fixtures.ts";

const spec = buildSpec(
  parseHookData(
    hookData({
      name: "resolv",
      bridge: "vt-nonexist0",
      lan: "10.7.0.1/24",
      uplinkBridge: "vt-nonexist1",
      uplink: "198.51.100.11/24",
      gateway: "198.51.100.1",
    }),
  ).network,
  EMPTY_CONFIG,
);
const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function roots() {
  const run = mkdtempSync(join(tmpdir(), "vnat-resolv-"));
  dirs.push(run);
  return { run, config: "/nonexistent", log: run, netnsEtc: join(run, "etc-netns") };
}

test("renderResolvConf: the gateway (where dnsmasq listens) and no search domain of the host's", () => {
  assert.equal(
    renderResolvConf(spec),
    `# written by vnat for network "resolv" and removed when it stops: the namespace's dnsmasq\nnameserver 10.7.0.1\nsearch .\n`,
  );
});

describe("the resolv step of a start", () => {
  test("written (0644 in a 0755 directory) before any ip netns exec; a later failure removes it", async () => {
    const r = roots();
    const { dir, file } = netnsResolvConfPath(r, spec.names.netns);
    assert.equal(dir, join(r.netnsEtc, "vnat-resolv"));
    const seen: boolean[] = [];
    const runner: Runner = {
      async run(cmd, args): Promise<RunResult> {
        if (args[0] === "netns" && args[1] === "exec") seen.push(existsSync(file));
        if (args.includes("nft")) return { exitCode: 1, stdout: "", stderr: "boom: simulated" };
        return { exitCode: 0, stdout: "", stderr: "" };
      },
    };
    await assert.rejects(startNetwork({ runner, roots: r }, spec), /step "nftables" failed: boom: simulated/);
    assert.ok(seen.length > 0 && seen.every(Boolean), `resolv.conf there at every ip netns exec: ${seen}`);
    assert.ok(!existsSync(dir), "the undo removed the file and its directory");
    assert.ok(existsSync(r.netnsEtc), "the parent (/etc/netns) stays");
  });

  test("its content and modes, whatever the umask", async () => {
    const r = roots();
    const { dir, file } = netnsResolvConfPath(r, spec.names.netns);
    let content = "";
    const runner: Runner = {
      async run(): Promise<RunResult> {
        if (content === "" && existsSync(file)) {
          content = readFileSync(file, "utf8");
          assert.equal(statSync(file).mode & 0o777, 0o644);
          assert.equal(statSync(dir).mode & 0o777, 0o755);
        }
        return { exitCode: 0, stdout: "", stderr: "" };
      },
    };
    const old = process.umask(0o077);
    try {
      await assert.rejects(startNetwork({ runner, roots: r, failpoint: "links" }, spec), /injected failure/);
    } finally {
      process.umask(old);
    }
    assert.equal(content, renderResolvConf(spec));
    assert.ok(!existsSync(dir));
  });
});
