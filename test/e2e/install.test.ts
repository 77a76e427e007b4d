// install.sh, without touching a real installation: everything goes into a scratch tree
// (--prefix, --bin-dir, --hook-dir, --config, --completion-dir, --man-dir,
// --logrotate-dir), so the test runs where vnat is installed too. It installs, reinstalls
// (idempotent), runs the installed command and hook, checks the logrotate rules with
// logrotate, and --uninstall removes exactly what it added. The part only
// the real daemon can show (a new hook in libvirt's directory is reloaded and run) runs
// under the hook lock the other tests share: with no hook in place, a scratch installation
// puts its hook there and takes it away again; with one in place (vnat installed, or
// another test run's hook), install.sh must refuse to replace it.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  ensureDaemons,
  ensureHookSeen,
  HOOK_FILE,
  libvirtUnavailable,
  REPO,
  withHookLock,
} from "../support/libvirt.ts";
import { needs } from "../support/needs.ts";
import { sh } from "../support/sh.ts";
import { exitCode } from "../../src/core/errors.ts";

const unmet = libvirtUnavailable();

/** Every path under DIR with its type and content (what "as it was" means). */
function tree(dir: string): string[] {
  if (!existsSync(dir)) return [];
  if (!statSync(dir).isDirectory()) return [`:${readFileSync(dir, "utf8")}`];
  return readdirSync(dir, { recursive: true, encoding: "utf8" })
    .sort()
    .map((p) => {
      const full = join(dir, p);
      return statSync(full).isDirectory() ? `${p}/` : `${p}:${readFileSync(full, "utf8")}`;
    });
}

/**
 * A real installation's files: never changed by this test. (Its hook and config are left
 * out: other test runs add and remove a hook and providers meanwhile; the manifest check
 * shows the scratch install wrote nothing outside its tree.)
 */
const REAL = [
  "/usr/local/lib/vnat",
  "/usr/local/bin/vnat",
  "/usr/share/bash-completion/completions/vnat",
  "/usr/local/share/man/man1/vnat.1",
  "/etc/logrotate.d/vnat",
];
const realState = (): Record<string, string[]> => Object.fromEntries(REAL.map((p) => [p, tree(p)]));

interface Scratch {
  root: string;
  prefix: string;
  bin: string;
  hook: string;
  config: string;
  completion: string;
  man: string;
  logrotate: string;
  /** install.sh's options for this tree (hookDir: libvirt's own instead of the scratch one) */
  args: (o?: { libvirtHookDir?: boolean }) => string[];
}

async function scratch(): Promise<Scratch> {
  const root = await mkdtemp(join(tmpdir(), "vnat-install-"));
  // a directory that was there before: install.sh uses it and --uninstall leaves it
  await mkdir(join(root, "etc"));
  const s = {
    root,
    prefix: join(root, "lib/vnat"),
    bin: join(root, "bin"),
    hookDir: join(root, "hooks/network.d"),
    config: join(root, "etc/vnat/config.json"),
    completionDir: join(root, "share/bash-completion/completions"),
    manDir: join(root, "share/man"),
    logrotateDir: join(root, "etc/logrotate.d"),
  };
  return {
    root,
    prefix: s.prefix,
    bin: join(s.bin, "vnat"),
    hook: join(s.hookDir, "vnat"),
    config: s.config,
    completion: join(s.completionDir, "vnat"),
    man: join(s.manDir, "man1/vnat.1"),
    logrotate: join(s.logrotateDir, "vnat"),
    args: (o = {}) => [
      ...["--prefix", s.prefix, "--bin-dir", s.bin, "--config", s.config],
      ...(o.libvirtHookDir ? [] : ["--hook-dir", s.hookDir]),
      ...["--completion-dir", s.completionDir, `--man-dir=${s.manDir}`, "--logrotate-dir", s.logrotateDir],
    ],
  };
}

const install = (...args: string[]) =>
  sh("bash", [join(REPO, "install.sh"), "--no-apt", ...args], { timeoutMs: 300_000 });

/** a hook event as libvirt sends it: NAME OP SUBOP - with the network's XML on stdin */
const hookEvent = (hook: string, name: string, op: string, subop: string, metadata: string, root: string) =>
  sh(hook, [name, op, subop, "-"], {
    input: `<hookData><network><name>${name}</name>${metadata}</network></hookData>\n`,
    env: { VNAT_RUN_DIR: join(root, "run"), VNAT_LOG_DIR: join(root, "log") },
    timeoutMs: 30_000,
  });
const BAD_VNAT = `<metadata><vnat:network xmlns:vnat="urn:vnat:network:1"><vnat:lan address="hook-probe"/></vnat:network></metadata>`;

needs(unmet).test(
  "install.sh into a scratch tree: install, reinstall (idempotent), the installed command, hook, completion and man page; --uninstall leaves the tree as it was",
  { timeout: 600_000 },
  async () => {
    const real = realState();
    const s = await scratch();
    try {
      const before = tree(s.root);
      const first = await install(...s.args());
      assert.equal(first.exitCode, 0, first.stderr + first.stdout);
      assert.match(first.stdout, /not libvirt's hook directory, the libvirt daemon is left alone/);
      for (const f of [s.bin, s.hook, s.config, s.completion, s.man, s.logrotate, join(s.prefix, "dist/hook.js")])
        assert.ok(existsSync(f), `${f} missing`);
      const manifest = readFileSync(join(s.prefix, "MANIFEST"), "utf8");
      for (const line of manifest.split("\n").filter((l) => /^(file|dir|config) /.test(l)))
        assert.ok(line.split(" ")[1]!.startsWith(`${s.root}/`), `outside the scratch tree: ${line}`);
      assert.doesNotMatch(manifest, new RegExp(`^dir ${s.root}/etc$`, "m"), "etc/ was there before");

      // the command and the hook run the installed bundle with the scratch config
      const hook = readFileSync(s.hook, "utf8");
      assert.match(hook, /^# vnat network hook, installed by vnat's install\.sh/m);
      assert.ok(hook.includes(` exec ${s.prefix}/hooks/network "$@"`), hook);
      assert.ok(hook.includes(`VNAT_CONFIG=${s.config} `), hook);
      const list = await sh(s.bin, ["provider", "list", "--json"]);
      assert.equal(list.exitCode, 0, list.stderr);
      assert.deepEqual(JSON.parse(list.stdout), []);
      assert.equal((await sh(s.bin, ["--version"])).stdout.trim(), "0.1.0");
      // `vnat exporter` runs its own bundle (contrib/systemd/vnat-exporter.service runs it so)
      assert.ok(readFileSync(s.bin, "utf8").includes(` ${s.prefix}/dist/exporter.js "$@"`));
      const exp = await sh(s.bin, ["exporter", "--help"]);
      assert.equal(exp.exitCode, 0, exp.stderr);
      assert.match(exp.stdout, /^Usage: vnat exporter \[options\]\n/);
      const badListen = await sh(s.bin, ["exporter", "--listen", "nowhere"]);
      assert.equal(badListen.exitCode, exitCode("invalid-input"), badListen.stderr);
      assert.match(badListen.stderr, /^vnat: --listen "nowhere": expected ADDRESS:PORT[^\n]*\n$/);
      const plain = await hookEvent(s.hook, "vnat-inst-plain", "start", "begin", "", s.root);
      assert.deepEqual([plain.exitCode, plain.stderr], [0, ""]);
      const refused = await hookEvent(s.hook, "vnat-inst-probe", "start", "begin", BAD_VNAT, s.root);
      assert.notEqual(refused.exitCode, 0);
      assert.match(refused.stderr, /^vnat: [^\n]+\n$/, "one line from the installed hook");

      // completion and man page: the build's, in place
      assert.equal(readFileSync(s.completion, "utf8"), readFileSync(join(REPO, "dist/vnat.bash"), "utf8"));
      assert.equal(readFileSync(s.man, "utf8"), readFileSync(join(REPO, "dist/vnat.1"), "utf8"));
      const c = await sh("bash", ["-c", `. ${s.completion} && complete -p vnat`]);
      assert.match(c.stdout, /complete -F _vnat vnat/, c.stderr);

      // log rotation: the repository's rules, which logrotate (a runtime package) reads without
      // a complaint (-d: debug, rotates nothing; its own state file, not the system's)
      assert.equal(readFileSync(s.logrotate, "utf8"), readFileSync(join(REPO, "packaging/logrotate/vnat"), "utf8"));
      assert.equal((statSync(s.logrotate).mode & 0o777).toString(8), "644");
      assert.ok(manifest.includes(`file ${s.logrotate}\n`), "the logrotate file is in the MANIFEST");
      const lr = await sh("logrotate", ["-d", "-s", join(s.root, "logrotate.state"), s.logrotate]);
      assert.equal(lr.exitCode, 0, lr.stderr + lr.stdout);
      assert.match(lr.stderr + lr.stdout, /rotating pattern: \/var\/log\/vnat\/\*\.log\s+weekly \(4 rotations\)/);
      assert.doesNotMatch(lr.stderr + lr.stdout, /error|unknown|ignor/i);

      const second = await install(...s.args());
      assert.equal(second.exitCode, 0, second.stderr);
      assert.doesNotMatch(second.stdout, /installed \/|SIGHUP|wrote \//, "a reinstall changed the hook or config");
      assert.equal(readFileSync(join(s.prefix, "MANIFEST"), "utf8"), manifest);
      assert.equal(readFileSync(s.hook, "utf8"), hook);

      const u = await install("--uninstall", ...s.args());
      assert.equal(u.exitCode, 0, u.stderr);
      assert.ok(!existsSync(s.logrotate), "--uninstall left the logrotate file");
      assert.deepEqual(
        tree(s.root).filter((p) => !/^(run|log|logrotate\.state)\b/.test(p)),
        before,
        "--uninstall left something",
      );
    } finally {
      await rm(s.root, { recursive: true, force: true });
    }
    assert.deepEqual(realState(), real, "the real installation changed");
  },
);

needs(unmet).test(
  "install.sh with libvirt's hook directory: a new hook is reloaded into the running daemon, another installation's hook is never replaced",
  { timeout: 600_000 },
  async (t) => {
    await ensureDaemons();
    // no other test run adopts or installs a hook meanwhile (test/support/libvirt.ts useHook)
    await withHookLock(async () => {
      const s = await scratch();
      const hooksBefore = tree("/etc/libvirt/hooks");
      const other = existsSync(HOOK_FILE) ? readFileSync(HOOK_FILE, "utf8") : undefined;
      try {
        const r = await install(...s.args({ libvirtHookDir: true }));
        if (other !== undefined) {
          t.diagnostic(
            `a hook is in place (${other.includes("install.sh") ? "vnat is installed" : "another test run"})`,
          );
          assert.notEqual(r.exitCode, 0, "install.sh replaced another installation's hook");
          assert.match(
            r.stderr,
            /^vnat install: \/etc\/libvirt\/hooks\/network\.d\/vnat is not this installation's hook /,
          );
          assert.equal(readFileSync(HOOK_FILE, "utf8"), other);
        } else {
          assert.equal(r.exitCode, 0, r.stderr + r.stdout);
          assert.match(r.stdout, /installed \/etc\/libvirt\/hooks\/network\.d\/vnat/);
          assert.match(r.stdout, /libvirt daemon reloaded \(SIGHUP\): it runs the hook/);
          assert.ok(readFileSync(HOOK_FILE, "utf8").includes(` exec ${s.prefix}/hooks/network `));
          await ensureHookSeen(10_000);
        }
      } finally {
        const u = await install("--uninstall", "--force", ...s.args({ libvirtHookDir: true }));
        await rm(s.root, { recursive: true, force: true });
        assert.equal(u.exitCode, 0, u.stderr);
      }
      if (other !== undefined) assert.equal(readFileSync(HOOK_FILE, "utf8"), other);
      assert.deepEqual(tree("/etc/libvirt/hooks"), hooksBefore);
    });
  },
);
