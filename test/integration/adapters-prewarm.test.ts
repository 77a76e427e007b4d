// After vnat defines a network it remembers the document libvirt will send at the next
// `start begin` (src/adapters/libvirt/prewarm.ts). Against the real libvirt, with a network this
// test defines (never started) and run/config roots of its own: run from source (no
// build-id beside the module) nothing is remembered; the same module beside a build-id (the
// installed layout: a byte-for-byte copy of src/ with dist's build-id file) writes the
// shell hook's entry, keyed by that build id and the document, whose lines are the
// validated spec's; a definition the policy refuses, a missing network or an unreadable
// config is a miss (false) that writes nothing. The network is undefined at the end.
import assert from "node:assert/strict";
import { createHash, randomBytes } from "node:crypto";
import {
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, test } from "node:test";
import { rememberDefinition } from "../../src/adapters/libvirt/prewarm.ts";
import { parseConfig } from "../../src/core/input/config.ts";
import { cacheEntryName, hookCacheKey, renderCacheEntry, startHookData } from "../../src/core/hookcache.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { hookCacheDir, type Roots } from "../../src/core/paths.ts";
import { buildSpec } from "../../src/core/input/spec.ts";
import { networkXml } from "../support/fixtures.ts";
import { ensureDaemons, libvirtUnavailable, virsh } from "../support/libvirt.ts";
import { needs } from "../support/needs.ts";

const unmet = libvirtUnavailable();
const REPO = fileURLToPath(new URL("../../", import.meta.url));
const id = randomBytes(3).toString("hex");
const NET = `vtpw-${id}`;
const UUID = `7e57f000-0000-4000-8000-00${id}0f0f`;
const BUILD = `test-build-${id}`;
const base = mkdtempSync(join(tmpdir(), "vnat-prewarm-"));
const STRICT_OFF = '{ "strictUplinks": false }\n';

const definition = (lan: string): string =>
  networkXml({
    name: NET,
    bridge: `vtpw${id}`,
    lan,
    uplinkBridge: `vtpwp${id}`,
    uplink: "198.51.100.57/24",
    gateway: "198.51.100.1",
  }).replace(/<uuid>[^<]*<\/uuid>/, `<uuid>${UUID}</uuid>`);

async function define(xml: string): Promise<void> {
  const file = join(base, "net.xml");
  writeFileSync(file, xml);
  const r = await virsh(["net-define", file]);
  assert.equal(r.exitCode, 0, r.stderr);
}

let n = 0;
/** Fresh roots: an empty run directory and a config file with TEXT (undefined: none). */
function rootsWith(text: string | undefined): Roots {
  const dir = join(base, `r${n++}`);
  mkdirSync(join(dir, "run"), { recursive: true });
  if (text !== undefined) writeFileSync(join(dir, "config.json"), text);
  return { run: join(dir, "run"), config: join(dir, "config.json"), log: dir };
}
const cacheFiles = (roots: Roots): string[] =>
  existsSync(hookCacheDir(roots)) ? readdirSync(hookCacheDir(roots)) : [];

/** prewarm.ts as installed: the same source tree beside a build-id file. */
let installed: { rememberDefinition: typeof rememberDefinition };
before(async () => {
  if (unmet) return;
  await ensureDaemons();
  assert.notEqual((await virsh(["net-info", NET])).exitCode, 0, `network ${NET} exists already`);
  const copy = join(base, "installed");
  cpSync(join(REPO, "src"), join(copy, "src"), { recursive: true });
  cpSync(join(REPO, "package.json"), join(copy, "package.json"));
  symlinkSync(join(REPO, "node_modules"), join(copy, "node_modules"));
  assert.equal(
    readFileSync(join(copy, "src/adapters/libvirt/prewarm.ts"), "utf8"),
    readFileSync(join(REPO, "src/adapters/libvirt/prewarm.ts"), "utf8"),
  );
  writeFileSync(join(copy, "src/adapters/libvirt/build-id"), `${BUILD}\n`);
  installed = (await import(join(copy, "src/adapters/libvirt/prewarm.ts"))) as typeof installed;
  await define(definition("10.61.0.1/24"));
});
after(async () => {
  if (!unmet) {
    await virsh(["net-undefine", NET]);
    assert.notEqual((await virsh(["net-info", NET])).exitCode, 0, `network ${NET} left defined`);
  }
  rmSync(base, { recursive: true, force: true });
});

/** The entry the hook's fast path should find for NET's current definition under ROOTS. */
async function expectedEntry(roots: Roots, fibLine: string): Promise<{ file: string; text: string }> {
  const r = await virsh(["net-dumpxml", "--inactive", NET]);
  assert.equal(r.exitCode, 0, r.stderr);
  const data = startHookData(r.stdout);
  const bytes = readFileSync(roots.config);
  const config = parseConfig(roots.config, bytes.toString("utf8"));
  const spec = buildSpec(parseHookData(data).network, config);
  const hash = createHash("sha256").update(bytes).digest("hex");
  return {
    file: cacheEntryName(NET, hookCacheKey(BUILD, data)),
    text: renderCacheEntry(spec, hash, fibLine.slice("fib ".length)),
  };
}

needs(unmet).describe("rememberDefinition", {}, () => {
  test("run from source (no build-id beside the module): nothing remembered", async () => {
    const roots = rootsWith(STRICT_OFF);
    assert.equal(await rememberDefinition(roots, NET), false);
    assert.deepEqual(readdirSync(roots.run), []);
  });

  test("installed: the entry for the defined document, keyed by build id and document", async () => {
    const roots = rootsWith(STRICT_OFF);
    assert.equal(await installed.rememberDefinition(roots, NET), true);
    const files = cacheFiles(roots);
    assert.equal(files.length, 1, files.join(", "));
    const text = readFileSync(join(hookCacheDir(roots), files[0]!), "utf8");
    const fib = text.split("\n").find((l) => l.startsWith("fib ")) ?? "";
    assert.match(fib, /^fib [0-9a-f]{64}$/);
    const want = await expectedEntry(roots, fib);
    assert.equal(files[0], want.file);
    assert.equal(text, want.text);
    assert.match(text, new RegExp(`^netns vnat-${NET}$`, "m"));
    assert.match(text, /^claim vtpwp[0-9a-f]{6}@198\.51\.100\.57$/m);
  });

  test("a changed definition: a new entry for the new document, the older one dropped", async () => {
    const roots = rootsWith(STRICT_OFF);
    assert.equal(await installed.rememberDefinition(roots, NET), true);
    const first = cacheFiles(roots);
    await define(definition("10.62.0.1/24"));
    try {
      assert.equal(await installed.rememberDefinition(roots, NET), true);
      const second = cacheFiles(roots);
      assert.equal(second.length, 1);
      assert.notDeepEqual(second, first);
      const fib = readFileSync(join(hookCacheDir(roots), second[0]!), "utf8")
        .split("\n")
        .find((l) => l.startsWith("fib "))!;
      assert.equal(second[0], (await expectedEntry(roots, fib)).file);
    } finally {
      await define(definition("10.61.0.1/24"));
    }
  });

  test("the policy decides: a configured provider passes; its subnet elsewhere, or none, is a miss with nothing written", async () => {
    const provider = (gateway: string): string =>
      JSON.stringify({ providers: [{ bridge: `vtpwp${id}`, gateway }] }) + "\n";
    const ok = rootsWith(provider("198.51.100.1/24"));
    assert.equal(await installed.rememberDefinition(ok, NET), true);
    assert.equal(cacheFiles(ok).length, 1);
    for (const text of [provider("198.18.0.1/24"), '{ "providers": [] }\n']) {
      const roots = rootsWith(text);
      assert.equal(await installed.rememberDefinition(roots, NET), false, text);
      assert.deepEqual(cacheFiles(roots), [], text);
    }
  });

  test("a network libvirt does not have, or a config that cannot be read: a miss, nothing written", async () => {
    const roots = rootsWith(STRICT_OFF);
    assert.equal(await installed.rememberDefinition(roots, `${NET}-none`), false);
    const unreadable = rootsWith(undefined);
    mkdirSync(unreadable.config);
    assert.equal(await installed.rememberDefinition(unreadable, NET), false);
    assert.deepEqual([...cacheFiles(roots), ...cacheFiles(unreadable)], []);
  });
});
