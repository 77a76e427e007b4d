// src/cli/exec/exec.ts: `vnat exec <network> -- <command> [args...]`; the action hands exec-run.ts
// the command words and the caller's umask (umask.ts); exec-run.ts loads lazily.
import assert from "node:assert/strict";
import { test } from "node:test";
import { registerExec } from "../../src/cli/exec/exec.ts";
import { VnatError } from "../../src/core/errors.ts";
import { argsOf, dynamicImports, registered, staticImports, sub } from "../support/cli.ts";

test("exec <network> [command...], usage shown with --", () => {
  const e = sub(registered(registerExec), "exec");
  assert.deepEqual(argsOf(e), ["<network>", "[command...]"]);
  assert.equal(e.usage(), "<network> -- <command> [args...]");
  assert.deepEqual(e.options, []);
});

test("the action reaches exec-run: no command after the network is refused there, in one line", async () => {
  await assert.rejects(
    registered(registerExec).parseAsync(["exec", "web", "--"], { from: "user" }),
    (e: unknown) =>
      e instanceof VnatError &&
      e.kind === "invalid-input" &&
      e.message === 'exec "web": no command given (usage: vnat exec NET -- CMD [ARG...])',
  );
});

test("registration is cheap: commander and umask.ts only; exec-run.ts inside the action", () => {
  assert.deepEqual(staticImports("src/cli/exec/exec.ts"), ["../umask.ts", "commander"]);
  assert.deepEqual(dynamicImports("src/cli/exec/exec.ts"), ["./run.ts"]);
});
