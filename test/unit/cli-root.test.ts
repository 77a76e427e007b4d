// src/cli/root.ts: commands that read namespaces refuse, in one line with exit 77, when not root.
import assert from "node:assert/strict";
import { test } from "node:test";
import { requireRoot } from "../../src/cli/root.ts";
import { VnatError } from "../../src/core/errors.ts";
import { runTs } from "../support/cli.ts";

const probe = `import { requireRoot } from "./src/cli/root.ts";
  try { requireRoot("net show"); console.log("null"); }
  catch (e) { console.log(JSON.stringify({ name: e.name, kind: e.kind, code: e.exitCode, message: e.message })); }`;

test("as root: no refusal", () => {
  assert.equal(process.getuid?.(), 0, "the test runs as root");
  assert.doesNotThrow(() => requireRoot("status"));
  const r = runTs(probe);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "null\n");
});

test("as another user (nobody): a needs-root VnatError naming the command, exit code 77", () => {
  const r = runTs(probe, {}, 65534);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout), {
    name: "VnatError",
    kind: "needs-root",
    code: 77,
    message: "net show: needs root (it reads network namespaces and /run/vnat)",
  });
});

test("the uid is read at each call", () => {
  const real = process.getuid;
  process.getuid = () => 1000;
  try {
    assert.throws(
      () => requireRoot("doctor"),
      (e: unknown) => e instanceof VnatError && e.kind === "needs-root" && e.message.startsWith("doctor: needs root"),
    );
  } finally {
    process.getuid = real;
  }
  assert.doesNotThrow(() => requireRoot("doctor"));
});
