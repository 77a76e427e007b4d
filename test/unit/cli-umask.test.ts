// src/cli/umask.ts: the umask vnat was started with, read before main.ts sets 077, and left as it was.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { test } from "node:test";
import { REPO } from "../support/cli.ts";

/** a child started with umask MASK (through sh) that imports umask.ts and prints what it saw */
function child(mask: string): { caller: number; after: number } {
  const code = `const m = await import("./src/cli/umask.ts");
    const after = process.umask(0); console.log(JSON.stringify({ caller: m.CALLER_UMASK, after }));`;
  const r = spawnSync(
    "/bin/sh",
    ["-c", `umask ${mask} && exec "$0" --import tsx --input-type=module -e "$1"`, process.execPath, code],
    { encoding: "utf8", cwd: REPO },
  );
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { caller: number; after: number };
}

test("CALLER_UMASK is the umask the process started with, and the process keeps it", () => {
  assert.deepEqual(child("022"), { caller: 0o022, after: 0o022 });
  assert.deepEqual(child("002"), { caller: 0o002, after: 0o002 });
  assert.deepEqual(child("077"), { caller: 0o077, after: 0o077 });
});

test("main.ts's 077 comes after: vnat exec hands the caller's umask on (registration imports umask.ts first)", () => {
  const code = `const { buildProgram } = await import("./src/cli/program.ts");
    buildProgram(); process.umask(0o077);
    const m = await import("./src/cli/umask.ts"); console.log(m.CALLER_UMASK);`;
  const r = spawnSync(
    "/bin/sh",
    ["-c", `umask 022 && exec "$0" --import tsx --input-type=module -e "$1"`, process.execPath, code],
    {
      encoding: "utf8",
      cwd: REPO,
    },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.equal(Number(r.stdout), 0o022);
});
