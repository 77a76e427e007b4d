// src/cli/attach/attach.ts: `vnat attach <net> <segment> [--take-addresses]` and `vnat detach <net> <segment>`
// (issue 19); actions.ts loads lazily.
import assert from "node:assert/strict";
import { test } from "node:test";
import { registerAttach } from "../../src/cli/attach/attach.ts";
import { argsOf, dynamicImports, optionsOf, registered, staticImports } from "../support/cli.ts";

test("attach <net> <segment> [--take-addresses] [--json], detach <net> <segment> [--json]", () => {
  const p = registered(registerAttach);
  assert.deepEqual(
    p.commands.map((c) => [c.name(), argsOf(c), Object.keys(optionsOf(c)).sort()]),
    [
      ["attach", ["<net>", "<segment>"], ["--json", "--take-addresses"]],
      ["detach", ["<net>", "<segment>"], ["--json"]],
    ],
  );
});

test("too few or too many arguments are parse errors", async () => {
  await assert.rejects(
    registered(registerAttach).parseAsync(["attach", "web"], { from: "user" }),
    /missing required argument 'segment'/,
  );
  await assert.rejects(
    registered(registerAttach).parseAsync(["detach", "web", "tap:t0", "x"], { from: "user" }),
    /too many arguments/,
  );
});

test("registration is cheap: only commander and output.ts load; actions.ts inside each action", () => {
  assert.deepEqual(staticImports("src/cli/attach/attach.ts"), ["../output.ts", "commander"]);
  assert.deepEqual(dynamicImports("src/cli/attach/attach.ts"), ["./actions.ts"]);
});
