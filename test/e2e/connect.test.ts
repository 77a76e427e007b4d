// Which libvirt the vnat CLI talks to (issue 16.3): -c/--connect, then VNAT_LIBVIRT_URI,
// then LIBVIRT_DEFAULT_URI, then qemu:///system; anything but this host's system libvirt
// is refused in one line before virsh runs. The real virsh and libvirtd answer; a wrapper
// first on PATH records the -c each virsh process was given, then execs the real one.
import assert from "node:assert/strict";
import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { invalid } from "../../src/core/errors.ts";
import { ensureDaemons, libvirtUnavailable, REPO } from "../support/libvirt.ts";
import { needs } from "../support/needs.ts";
import { sh } from "../support/sh.ts";

const unmet = libvirtUnavailable();
const ALLOWED = "vnat works only with this host's system libvirt (qemu:///system or qemu+unix:///system)";

needs(unmet).describe("vnat -c/--connect and LIBVIRT_DEFAULT_URI", { concurrency: false }, () => {
  let dir = "";
  let log = "";
  before(async () => {
    await ensureDaemons();
    dir = await mkdtemp(join(tmpdir(), "vnat-connect-"));
    log = join(dir, "virsh.log");
    const wrapper = join(dir, "virsh");
    await writeFile(
      wrapper,
      `#!/bin/sh\nprintf '%s\\n' "$3" >> '${log}'\n[ "$1" = -q ] && [ "$2" = -c ] || echo "unexpected: $*" >> '${log}'\nexec /usr/bin/virsh "$@"\n`,
    );
    await chmod(wrapper, 0o755);
  });
  after(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** `vnat ARGS` with ENV over the test's own; returns its result and the URIs virsh was given. */
  async function vnat(args: string[], env: Record<string, string> = {}) {
    await writeFile(log, "");
    const base = { ...process.env };
    delete base.LIBVIRT_DEFAULT_URI;
    delete base.VNAT_LIBVIRT_URI;
    const r = await sh(process.execPath, [join(REPO, "dist/cli.js"), ...args], {
      env: { ...base, PATH: `${dir}:${process.env.PATH ?? ""}`, VNAT_CONFIG: join(dir, "config.json"), ...env },
      timeoutMs: 60_000,
    });
    const uris = [...new Set((await readFile(log, "utf8")).split("\n").filter(Boolean))];
    return { ...r, uris };
  }

  const refused = async (args: string[], env: Record<string, string>, uri: string, from: string) => {
    const r = await vnat(args, env);
    assert.equal(r.exitCode, invalid("x").exitCode, r.stderr);
    assert.equal(r.stderr, `vnat: libvirt URI "${uri}" (${from}): ${ALLOWED}\n`);
    assert.equal(r.stdout, "");
    assert.deepEqual(r.uris, [], "no virsh ran");
  };

  test("a session, remote or unknown URI is refused in one line naming it and where it came from", async () => {
    await refused(["-c", "qemu:///session", "status"], {}, "qemu:///session", "-c/--connect");
    await refused(
      ["status", "--connect", "qemu+ssh://root@elsewhere/system"],
      {},
      "qemu+ssh://root@elsewhere/system",
      "-c/--connect",
    );
    await refused(
      ["net", "list"],
      { LIBVIRT_DEFAULT_URI: "qemu:///session" },
      "qemu:///session",
      "LIBVIRT_DEFAULT_URI",
    );
    await refused(["net", "list"], { VNAT_LIBVIRT_URI: "test:///default" }, "test:///default", "VNAT_LIBVIRT_URI");
  });

  test("virsh runs with the URI of the highest source given", async () => {
    const cases: Array<[string[], Record<string, string>, string]> = [
      [[], {}, "qemu:///system"],
      [[], { LIBVIRT_DEFAULT_URI: "qemu+unix:///system" }, "qemu+unix:///system"],
      [[], { LIBVIRT_DEFAULT_URI: "" }, "qemu:///system"],
      [[], { VNAT_LIBVIRT_URI: "qemu+unix:///system", LIBVIRT_DEFAULT_URI: "qemu:///session" }, "qemu+unix:///system"],
      [["-c", "qemu+unix:///system"], { LIBVIRT_DEFAULT_URI: "qemu:///session" }, "qemu+unix:///system"],
      [["--connect", "qemu:///system"], { VNAT_LIBVIRT_URI: "qemu+unix:///system" }, "qemu:///system"],
    ];
    for (const [flags, env, uri] of cases) {
      const r = await vnat([...flags, "net", "list"], env);
      assert.equal(r.exitCode, 0, `${flags.join(" ")} ${JSON.stringify(env)}: ${r.stderr}`);
      assert.deepEqual(r.uris, [uri], `${flags.join(" ")} ${JSON.stringify(env)}`);
    }
  });

  test("a command that does not talk to libvirt runs whatever LIBVIRT_DEFAULT_URI says", async () => {
    const r = await vnat(["completion", "bash"], { LIBVIRT_DEFAULT_URI: "qemu:///session" });
    assert.equal(r.exitCode, 0, r.stderr);
    assert.match(r.stdout, /complete /);
  });
});
