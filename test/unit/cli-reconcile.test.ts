// src/cli/reconcile/reconcile.ts: `vnat reconcile [networks...]` and its options; reconcile-run.ts loads lazily.
import assert from "node:assert/strict";
import { test } from "node:test";
import { registerReconcile } from "../../src/cli/reconcile/reconcile.ts";
import { argsOf, dynamicImports, optionsOf, registered, staticImports, sub } from "../support/cli.ts";

test("reconcile [networks...] with --dry-run, -q/--quiet, --force, --json", () => {
  const r = sub(registered(registerReconcile), "reconcile");
  assert.deepEqual(argsOf(r), ["[networks...]"]);
  assert.deepEqual(Object.keys(optionsOf(r)), ["--dry-run", "-q, --quiet", "--force", "--json"]);
  r.parseOptions(["-q", "--dry-run"]);
  assert.deepEqual(r.opts(), { quiet: true, dryRun: true });
});

test("registration is cheap: commander only; reconcile-run.ts inside the action", () => {
  assert.deepEqual(staticImports("src/cli/reconcile/reconcile.ts"), ["commander"]);
  assert.deepEqual(dynamicImports("src/cli/reconcile/reconcile.ts"), ["./run.ts"]);
});
