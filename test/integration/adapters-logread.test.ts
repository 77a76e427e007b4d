// `vnat log` reading and following the hook's log (src/adapters/log/read.ts) on real files:
// complete lines only (a line being written waits for its newline), and, following as
// `tail -F` does, a file truncated by logrotate's copytruncate or replaced by another
// (a new inode) read again from its top; a path missing for a while is waited for.
import assert from "node:assert/strict";
import {
  appendFileSync,
  mkdtempSync,
  renameSync,
  rmSync,
  statSync,
  truncateSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { followLog, readLog } from "../../src/adapters/log/read.ts";

const base = mkdtempSync(join(tmpdir(), "vnat-logread-"));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const fresh = (): string => join(base, `hook${n++}.log`);

/** Follows PATH from AT; got() is every line seen so far, waitFor(k) resolves once k lines came. */
function follow(path: string, at: Awaited<ReturnType<typeof readLog>>) {
  const ac = new AbortController();
  const seen: string[] = [];
  const done = followLog(
    path,
    at,
    async (lines) => {
      seen.push(...lines);
    },
    { intervalMs: 10, signal: ac.signal },
  );
  const waitFor = async (k: number): Promise<void> => {
    for (let i = 0; i < 500 && seen.length < k; i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(seen.length >= k, `only ${seen.length} of ${k} lines came: ${JSON.stringify(seen)}`);
  };
  const stop = async (): Promise<void> => {
    ac.abort();
    await done;
  };
  return { seen, waitFor, stop };
}

describe("readLog", () => {
  test("no file yet: no lines, position 0, no inode", async () => {
    assert.deepEqual(await readLog(join(base, "none.log")), { lines: [], position: 0, ino: undefined });
  });

  test("complete lines only; the position is just after the last newline", async () => {
    const p = fresh();
    writeFileSync(p, '{"msg":"one"}\n{"msg":"twö"}\n{"msg":"half');
    const r = await readLog(p);
    assert.deepEqual(r.lines, ['{"msg":"one"}', '{"msg":"twö"}']);
    assert.equal(r.position, Buffer.byteLength('{"msg":"one"}\n{"msg":"twö"}\n'));
    assert.equal(r.ino, statSync(p).ino);
  });

  test("an empty file, or one with no newline yet: no lines, position 0", async () => {
    const p = fresh();
    writeFileSync(p, "");
    assert.deepEqual((await readLog(p)).lines, []);
    writeFileSync(p, "no newline");
    const r = await readLog(p);
    assert.deepEqual([r.lines, r.position], [[], 0]);
  });

  test("an empty line is a line", async () => {
    const p = fresh();
    writeFileSync(p, "a\n\nb\n");
    assert.deepEqual((await readLog(p)).lines, ["a", "", "b"]);
  });
});

describe("followLog", () => {
  test("lines appended after AT, and a line finished later, in order, none twice", async () => {
    const p = fresh();
    writeFileSync(p, "old 1\nold 2\n");
    const f = follow(p, await readLog(p));
    try {
      appendFileSync(p, "new 1\npar");
      await f.waitFor(1);
      appendFileSync(p, "tial\nnew 3\n");
      await f.waitFor(3);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(f.seen, ["new 1", "partial", "new 3"]);
    } finally {
      await f.stop();
    }
  });

  test("copytruncate: a file shrunk below the position is read from its top", async () => {
    const p = fresh();
    writeFileSync(p, "line before rotation number 1\nline before rotation number 2\n");
    const f = follow(p, await readLog(p));
    try {
      truncateSync(p, 0);
      appendFileSync(p, "after 1\n");
      await f.waitFor(1);
      appendFileSync(p, "after 2\n");
      await f.waitFor(2);
      assert.deepEqual(f.seen, ["after 1", "after 2"]);
    } finally {
      await f.stop();
    }
  });

  test("a file replaced by another (new inode), even a longer one, is read from its top", async () => {
    const p = fresh();
    writeFileSync(p, "x\n");
    const f = follow(p, await readLog(p));
    try {
      const other = `${p}.new`;
      writeFileSync(other, "replacement 1\nreplacement 2\n");
      renameSync(other, p);
      await f.waitFor(2);
      assert.deepEqual(f.seen, ["replacement 1", "replacement 2"]);
    } finally {
      await f.stop();
    }
  });

  test("the path gone for a while (between a move and the next write), then back", async () => {
    const p = fresh();
    writeFileSync(p, "before\n");
    const f = follow(p, await readLog(p));
    try {
      unlinkSync(p);
      await new Promise((r) => setTimeout(r, 60));
      writeFileSync(p, "back\n");
      await f.waitFor(1);
      assert.deepEqual(f.seen, ["back"]);
    } finally {
      await f.stop();
    }
  });

  test("a file that did not exist at first is followed from its top once it appears", async () => {
    const p = fresh();
    const f = follow(p, await readLog(p));
    try {
      await new Promise((r) => setTimeout(r, 40));
      writeFileSync(p, "first\nsecond\n");
      await f.waitFor(2);
      assert.deepEqual(f.seen, ["first", "second"]);
    } finally {
      await f.stop();
    }
  });

  test("an abort ends the follow; nothing is read after it", async () => {
    const p = fresh();
    writeFileSync(p, "");
    const f = follow(p, await readLog(p));
    await f.stop();
    appendFileSync(p, "too late\n");
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(f.seen, []);
  });
});
