// adapters/store/files.ts and adapters/store/config-store.ts on a real filesystem (a temp directory):
// atomic writes with exact modes, tolerant reads and removals, searchable directories; the
// config store's read-change-validate-write under its lock, concurrent writers never losing
// an update, and a change that does not validate leaving the file as it was.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtemp, mkdir, readFile, readdir, rm, stat, writeFile, chmod } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ensureSearchable, readIfExists, removeTree, writeAtomic } from "../../src/adapters/store/files.ts";
import { configLockPath, readConfigFile, updateConfigFile } from "../../src/adapters/store/config-store.ts";
import { VnatError } from "../../src/core/errors.ts";

async function scratch(fn: (dir: string) => Promise<void>): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), "vnat-files-"));
  try {
    await fn(dir);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

const provider = (bridge: string) => ({ bridge, gateway: "198.51.100.1/24", pool: "198.51.100.100-198.51.100.199" });

test("writeAtomic: parents made, exact mode whatever the umask, content replaced whole, no temp file left", () =>
  scratch(async (dir) => {
    const f = join(dir, "a/b/file");
    await writeAtomic(f, "zero\n");
    assert.equal((await stat(join(dir, "a"))).mode & 0o777, 0o700, "parents are root's alone");
    const old = process.umask(0o777); // a umask that would leave no permission at all
    try {
      await writeAtomic(f, "one\n", 0o644);
    } finally {
      process.umask(old);
    }
    assert.equal((await stat(f)).mode & 0o7777, 0o644);
    assert.equal(await readFile(f, "utf8"), "one\n");
    await writeAtomic(f, "two\n");
    assert.equal(await readFile(f, "utf8"), "two\n");
    assert.equal((await stat(f)).mode & 0o7777, 0o600, "the default mode is 0600");
    assert.deepEqual(await readdir(join(dir, "a/b")), ["file"]);
  }));

test("readIfExists: text, undefined when missing, other errors thrown; removeTree tolerates a missing path", () =>
  scratch(async (dir) => {
    await writeFile(join(dir, "x"), "hi");
    assert.equal(await readIfExists(join(dir, "x")), "hi");
    assert.equal(await readIfExists(join(dir, "missing")), undefined);
    await assert.rejects(readIfExists(join(dir, "x", "below-a-file")), /ENOTDIR/);
    await assert.rejects(readIfExists(dir), /EISDIR/);
    await mkdir(join(dir, "t/u"), { recursive: true });
    await writeFile(join(dir, "t/u/f"), "");
    await removeTree(join(dir, "t"));
    await removeTree(join(dir, "t"));
    assert.deepEqual((await readdir(dir)).sort(), ["x"]);
  }));

test("ensureSearchable adds search (x) for group and others, nothing else, and leaves searchable ones alone", () =>
  scratch(async (dir) => {
    const a = join(dir, "a");
    const b = join(dir, "b");
    await mkdir(a, { mode: 0o700 });
    await mkdir(b);
    await chmod(a, 0o700);
    await chmod(b, 0o755);
    await ensureSearchable([a, b]);
    assert.equal((await stat(a)).mode & 0o7777, 0o711);
    assert.equal((await stat(b)).mode & 0o7777, 0o755);
    await assert.rejects(ensureSearchable([join(dir, "missing")]), /ENOENT/);
  }));

test("config store: a missing file is an empty config; a change is validated, written 0644 and read back", () =>
  scratch(async (dir) => {
    const path = join(dir, "config.json");
    assert.deepEqual(await readConfigFile(path), { providers: [] });
    const next = await updateConfigFile(path, (c) => ({ ...c, providers: [...(c.providers ?? []), provider("br0")] }));
    assert.deepEqual(next.providers, [provider("br0")]);
    assert.equal((await stat(path)).mode & 0o7777, 0o644);
    assert.deepEqual(await readConfigFile(path), next);
    assert.ok((await readFile(path, "utf8")).endsWith("}\n"));
  }));

test("config store: a change that does not validate is refused in one line and the file stays as it was", () =>
  scratch(async (dir) => {
    const path = join(dir, "config.json");
    await updateConfigFile(path, () => ({ providers: [provider("br0")] }));
    const before = await readFile(path, "utf8");
    await assert.rejects(
      updateConfigFile(path, (c) => ({ ...c, providers: [...(c.providers ?? []), provider("br0")] })),
      (e: unknown) => e instanceof VnatError && e.kind === "invalid-input" && !e.message.includes("\n"),
    );
    assert.equal(await readFile(path, "utf8"), before);
    await writeFile(path, "{ broken");
    await assert.rejects(readConfigFile(path), (e: unknown) => e instanceof VnatError && e.message.includes(path));
    await assert.rejects(
      updateConfigFile(path, (c) => c),
      (e: unknown) => e instanceof VnatError,
    );
    assert.equal(await readFile(path, "utf8"), "{ broken", "a broken file is never overwritten by a change");
  }));

test("config store: 20 concurrent changes under the lock lose no update", () =>
  scratch(async (dir) => {
    const path = join(dir, "config.json");
    await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        updateConfigFile(path, (c) => ({ ...c, providers: [...(c.providers ?? []), provider(`br${i}`)] })),
      ),
    );
    const names = ((await readConfigFile(path)).providers ?? []).map((p) => p.bridge).sort();
    assert.deepEqual(names, Array.from({ length: 20 }, (_, i) => `br${i}`).sort());
    assert.equal(configLockPath(path), `${path}.lock`);
  }));
