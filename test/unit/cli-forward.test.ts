// src/cli/inbound/forward.ts: `vnat forward`: port forwards (add, remove, list [net]) as documented; inbound-actions.ts loads lazily.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Command } from "commander";
import { registerForward } from "../../src/cli/inbound/forward.ts";
import { argsOf, dynamicImports, optionsOf, registered, staticImports, sub } from "../support/cli.ts";

const shape = (register: (p: Command) => void, group: string) =>
  sub(registered(register), group).commands.map((c) => [c.name(), argsOf(c), Object.keys(optionsOf(c))]);

test("forward add <net> <proto> <port> <target>, remove <net> <proto> <port>, list [net]", () => {
  assert.deepEqual(shape(registerForward, "forward"), [
    ["add", ["<net>", "<proto>", "<port>", "<target>"], ["--json"]],
    ["remove", ["<net>", "<proto>", "<port>"], ["--json"]],
    ["list", ["[net]"], ["--json"]],
  ]);
});

test("too few or too many arguments are parse errors", async () => {
  const t = registered(registerForward);
  await assert.rejects(
    t.parseAsync(["forward", "add", "web", "tcp", "80"], { from: "user" }),
    /missing required argument 'target'/,
  );
  await assert.rejects(
    registered(registerForward).parseAsync(["forward", "remove", "web", "tcp", "80", "extra"], { from: "user" }),
    /too many arguments/,
  );
});

test("registration is cheap: only commander and output.ts load; inbound-actions.ts inside each action", () => {
  assert.deepEqual(staticImports("src/cli/inbound/forward.ts"), ["../output.ts", "commander"]);
  assert.deepEqual(dynamicImports("src/cli/inbound/forward.ts"), ["./actions.ts"]);
});
