// src/cli/inbound/floating.ts: `vnat floating`: 1:1 floating IPs (add, remove, list [net]) as documented; inbound-actions.ts loads lazily.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Command } from "commander";
import { registerFloating } from "../../src/cli/inbound/floating.ts";
import { argsOf, dynamicImports, optionsOf, registered, staticImports, sub } from "../support/cli.ts";

const shape = (register: (p: Command) => void, group: string) =>
  sub(registered(register), group).commands.map((c) => [c.name(), argsOf(c), Object.keys(optionsOf(c))]);

test("floating add <net> <address> <guest>, remove <net> <address>, list [net]", () => {
  assert.deepEqual(shape(registerFloating, "floating"), [
    ["add", ["<net>", "<address>", "<guest>"], ["--json"]],
    ["remove", ["<net>", "<address>"], ["--json"]],
    ["list", ["[net]"], ["--json"]],
  ]);
});

test("registration is cheap: only commander and output.ts load; inbound-actions.ts inside each action", () => {
  assert.deepEqual(staticImports("src/cli/inbound/floating.ts"), ["../output.ts", "commander"]);
  assert.deepEqual(dynamicImports("src/cli/inbound/floating.ts"), ["./actions.ts"]);
});

test("floating add needs the guest; list takes at most one network", async () => {
  await assert.rejects(
    registered(registerFloating).parseAsync(["floating", "add", "web", "198.51.100.50"], { from: "user" }),
    /missing required argument 'guest'/,
  );
  await assert.rejects(
    registered(registerFloating).parseAsync(["floating", "list", "web", "db"], { from: "user" }),
    /too many arguments for 'list'/,
  );
});
