// The hook's structured log (src/adapters/log/log.ts) on real files: JSON lines in DIR/NAME.log,
// the directory 0700 and the file 0600 (they hold guests' names and addresses), appended to
// across runs, and never a byte on stdout (libvirt reads the hook's) or stderr (the user's
// one line). A log that cannot be opened is silently off: logging must never fail the hook.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, test } from "node:test";
import { openLog } from "../../src/adapters/log/log.ts";

const base = mkdtempSync(join(tmpdir(), "vnat-log-"));
after(() => rmSync(base, { recursive: true, force: true }));
const mode = (p: string): number => statSync(p).mode & 0o7777;
const lines = (p: string): Array<Record<string, unknown>> =>
  readFileSync(p, "utf8")
    .trimEnd()
    .split("\n")
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe("openLog", () => {
  test("JSON lines with the logger's name in DIR/NAME.log; dir 0700, file 0600", async () => {
    const dir = join(base, "a", "log");
    const log = await openLog(dir, "hook");
    log.info({ network: "n1", event: "start" }, "started");
    log.warn("careful");
    const file = join(dir, "hook.log");
    const got = lines(file);
    assert.equal(got.length, 2);
    assert.deepEqual(
      { name: got[0]!.name, level: got[0]!.level, msg: got[0]!.msg, network: got[0]!.network, event: got[0]!.event },
      { name: "hook", level: 30, msg: "started", network: "n1", event: "start" },
    );
    assert.equal(typeof got[0]!.time, "number");
    assert.deepEqual({ level: got[1]!.level, msg: got[1]!.msg }, { level: 40, msg: "careful" });
    assert.equal(mode(dir), 0o700);
    assert.equal(mode(file), 0o600);
  });

  test("a second run appends: what was logged before stays", async () => {
    const dir = join(base, "b");
    (await openLog(dir, "hook")).info("first run");
    (await openLog(dir, "hook")).info("second run");
    assert.deepEqual(
      lines(join(dir, "hook.log")).map((l) => l.msg),
      ["first run", "second run"],
    );
  });

  test("a directory that cannot be made: a disabled logger that takes calls and writes nothing", async () => {
    const blocker = join(base, "blocker");
    writeFileSync(blocker, "a file, not a directory\n");
    const log = await openLog(join(blocker, "log"), "hook");
    log.error({ err: "x" }, "nowhere to go");
    assert.equal(log.isLevelEnabled("error"), false);
    assert.equal(readFileSync(blocker, "utf8"), "a file, not a directory\n");
  });

  test("nothing on stdout or stderr of the process that logs", () => {
    const dir = join(base, "c");
    const mod = fileURLToPath(new URL("../../src/adapters/log/log.ts", import.meta.url));
    const script = `const { openLog } = await import(${JSON.stringify(mod)});
const log = await openLog(${JSON.stringify(dir)}, "hook");
log.info({ a: 1 }, "to the file only"); log.error("also the file only");`;
    const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, "");
    assert.equal(r.stderr, "");
    assert.deepEqual(
      lines(join(dir, "hook.log")).map((l) => l.msg),
      ["to the file only", "also the file only"],
    );
  });
});
