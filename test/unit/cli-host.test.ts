// src/cli/inbound/host.ts: `vnat host`: static DHCP hosts (add, remove, list [net]) as documented; inbound-actions.ts loads lazily.
import assert from "node:assert/strict";
import { test } from "node:test";
import type { Command } from "commander";
import { registerHost } from "../../src/cli/inbound/host.ts";
import { argsOf, dynamicImports, optionsOf, registered, staticImports, sub } from "../support/cli.ts";

const shape = (register: (p: Command) => void, group: string) =>
  sub(registered(register), group).commands.map((c) => [c.name(), argsOf(c), Object.keys(optionsOf(c))]);

test("host add <net> <mac> <ip> [hostname], remove <net> <mac>, list [net]", () => {
  assert.deepEqual(shape(registerHost, "host"), [
    ["add", ["<net>", "<mac>", "<ip>", "[hostname]"], ["--json"]],
    ["remove", ["<net>", "<mac>"], ["--json"]],
    ["list", ["[net]"], ["--json"]],
  ]);
});

test("registration is cheap: only commander and output.ts load; inbound-actions.ts inside each action", () => {
  assert.deepEqual(staticImports("src/cli/inbound/host.ts"), ["../output.ts", "commander"]);
  assert.deepEqual(dynamicImports("src/cli/inbound/host.ts"), ["./actions.ts"]);
});

test("host add needs MAC and IP (the name is optional); remove needs the MAC", async () => {
  await assert.rejects(
    registered(registerHost).parseAsync(["host", "add", "web", "52:54:00:00:00:01"], { from: "user" }),
    /missing required argument 'ip'/,
  );
  await assert.rejects(
    registered(registerHost).parseAsync(["host", "remove", "web"], { from: "user" }),
    /missing required argument 'mac'/,
  );
  await assert.rejects(
    registered(registerHost).parseAsync(["host", "add", "web", "52:54:00:00:00:01", "10.0.0.5", "vm", "x"], {
      from: "user",
    }),
    /too many arguments for 'add'/,
  );
});
