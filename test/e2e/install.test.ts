// install.sh on this host: installs, is idempotent, and --uninstall removes exactly what it
// added (files, directories, the hook, the default config) and leaves /etc/libvirt/hooks
// as it was. Skipped where vnat is really installed or a hook is in use by other tests.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { HOOK_FILE, libvirtUnavailable, REPO, withHookLock } from "../support/libvirt.ts";
import { sh } from "../support/sh.ts";

const MANIFEST = "/usr/local/lib/vnat/MANIFEST";
const skip =
  libvirtUnavailable() ??
  (existsSync(MANIFEST) ? "vnat is installed on this host (install.sh would not be tested from scratch)" : undefined) ??
  (existsSync(HOOK_FILE) ? `${HOOK_FILE} exists (in use by another test run)` : undefined);

/** Every path under DIR with its type and content (what "as it was" means). */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .sort()
    .map((p) => {
      const full = join(dir, p);
      return statSync(full).isDirectory() ? `${p}/` : `${p}:${readFileSync(full, "utf8").length}`;
    });
}

const install = (...args: string[]) =>
  sh("bash", [join(REPO, "install.sh"), "--no-apt", ...args], { timeoutMs: 300_000 });

test(
  "install.sh: install, reinstall (idempotent), --uninstall leaves the host as it was",
  { skip, timeout: 600_000 },
  // other test runs wait meanwhile: none may adopt this temporary install as "the installed hook"
  (t) =>
    withHookLock(async () => {
      if (existsSync(HOOK_FILE)) return t.skip(`${HOOK_FILE} appeared (another test run)`);
      const hooksBefore = tree("/etc/libvirt/hooks");
      const etcBefore = existsSync("/etc/vnat");
      try {
        const first = await install();
        assert.equal(first.exitCode, 0, first.stderr + first.stdout);
        for (const f of [
          "/usr/local/bin/vnat",
          HOOK_FILE,
          "/usr/local/lib/vnat/dist/hook.js",
          "/usr/local/lib/vnat/xml-templates/vnat-network.xml",
        ])
          assert.ok(existsSync(f), `${f} missing`);
        const hook = readFileSync(HOOK_FILE, "utf8");
        assert.match(hook, /^# vnat network hook, installed by vnat's install\.sh/m);
        assert.match(hook, /\/usr\/local\/lib\/vnat\//);
        const manifest = readFileSync(MANIFEST, "utf8");
        const v = await sh("/usr/local/bin/vnat", ["provider", "list", "--json"]);
        assert.equal(v.exitCode, 0, v.stderr);

        const second = await install();
        assert.equal(second.exitCode, 0, second.stderr);
        assert.doesNotMatch(
          second.stdout,
          /installed \/etc\/libvirt|SIGHUP|wrote \/etc\/vnat/,
          "a reinstall changed the hook or config",
        );
        assert.equal(readFileSync(MANIFEST, "utf8"), manifest);
        assert.equal(readFileSync(HOOK_FILE, "utf8"), hook);
      } finally {
        // --force: other test runs may have active vnat networks on this shared daemon
        const u = await install("--uninstall", "--force");
        assert.equal(u.exitCode, 0, u.stderr);
      }
      for (const f of ["/usr/local/bin/vnat", "/usr/local/lib/vnat", HOOK_FILE])
        assert.ok(!existsSync(f), `${f} left behind`);
      assert.equal(existsSync("/etc/vnat"), etcBefore);
      assert.deepEqual(tree("/etc/libvirt/hooks"), hooksBefore);
    }),
);
