// src/cli/provider/provider.ts: the `vnat provider` group as documented; its actions load lazily.
import assert from "node:assert/strict";
import { test } from "node:test";
import { registerProvider } from "../../src/cli/provider/provider.ts";
import { argsOf, dynamicImports, optionsOf, registered, staticImports, sub } from "../support/cli.ts";

const tree = () => registered(registerProvider);

test("provider has add, list, set, remove with their arguments and options", () => {
  const t = tree();
  assert.deepEqual(
    sub(t, "provider").commands.map((c) => [c.name(), argsOf(c), Object.keys(optionsOf(c))]),
    [
      [
        "add",
        ["<bridge>"],
        [
          "--gateway <addr[/prefix]>",
          "--pool <start-end>",
          "--dns <addr>",
          "--attach <auto|veth|macvlan>",
          "--gateway6 <addr/prefix>",
          "--pool6 <start-end>",
          "--dns6 <addr>",
          "--json",
        ],
      ],
      ["list", [], ["--json"]],
      ["set", ["<bridge>", "<key=value...>"], ["--json", "--dry-run"]],
      ["remove", ["<bridge>"], ["--force", "--json"]],
    ],
  );
  const add = optionsOf(sub(t, "provider add"));
  assert.equal(add["--gateway <addr[/prefix]>"]!.mandatory, true);
  assert.equal(add["--pool <start-end>"]!.mandatory, false);
  assert.equal(add["--dns <addr>"]!.default, undefined);
  assert.equal(add["--gateway6 <addr/prefix>"]!.mandatory, false);
  assert.equal(add["--dns6 <addr>"]!.default, undefined);
});

test("provider add: --dns repeats into a list", () => {
  const add = sub(tree(), "provider add");
  add.parseOptions(["--gateway", "198.51.100.1", "--dns", "198.51.100.53", "--dns", "9.9.9.9"]);
  assert.deepEqual(add.opts(), { gateway: "198.51.100.1", dns: ["198.51.100.53", "9.9.9.9"] });
});

test("provider add: --gateway6, --pool6 and repeated --dns6 (issue 17)", () => {
  const add = sub(tree(), "provider add");
  add.parseOptions([
    "--gateway",
    "198.51.100.1",
    "--gateway6",
    "2001:db8:100::1/64",
    "--pool6",
    "2001:db8:100::100-2001:db8:100::1ff",
    "--dns6",
    "2001:db8:200::10",
    "--dns6",
    "2001:db8:200::11",
  ]);
  assert.deepEqual(add.opts(), {
    gateway: "198.51.100.1",
    gateway6: "2001:db8:100::1/64",
    pool6: "2001:db8:100::100-2001:db8:100::1ff",
    dns6: ["2001:db8:200::10", "2001:db8:200::11"],
  });
});

test("provider set takes several key=value words", async () => {
  await assert.rejects(tree().parseAsync(["provider", "set", "br0"], { from: "user" }), /missing required argument/);
  await assert.rejects(tree().parseAsync(["provider", "nope"], { from: "user" }), /unknown command 'nope'/);
});

test("registration loads only commander and output.ts; provider-actions/provider-set lazily", () => {
  assert.deepEqual(staticImports("src/cli/provider/provider.ts"), ["../output.ts", "commander"]);
  assert.deepEqual(dynamicImports("src/cli/provider/provider.ts"), [
    "./actions.ts",
    "./actions.ts",
    "./actions.ts",
    "./set.ts",
  ]);
});
