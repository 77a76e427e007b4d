// src/cli/net/net.ts: the `vnat net` group's commands, arguments, options and defaults as
// documented; registering it loads no action module (each is imported inside its action).
import assert from "node:assert/strict";
import { test } from "node:test";
import { registerNet } from "../../src/cli/net/net.ts";
import { argsOf, dynamicImports, optionsOf, registered, staticImports, sub } from "../support/cli.ts";

const tree = () => registered(registerNet);

test("net has create, delete, set, show, adopt, release, list with their arguments", () => {
  const net = sub(tree(), "net");
  assert.deepEqual(
    net.commands.map((c) => [c.name(), argsOf(c)]),
    [
      ["create", ["<name>"]],
      ["delete", ["<net>"]],
      ["set", ["<net>", "<key=value...>"]],
      ["show", ["<net>"]],
      ["adopt", ["<net>"]],
      ["release", ["<net>"]],
      ["list", []],
    ],
  );
});

test("net create: --subnet and --provider required, --uplink defaults to auto, --dns repeats", () => {
  const o = optionsOf(sub(tree(), "net create"));
  assert.deepEqual(
    Object.keys(o).sort(),
    [
      "--subnet <cidr>",
      "--provider <bridge>",
      "--uplink <addr[/prefix]|auto>",
      "--gateway <addr>",
      "--dns <addr>",
      "--dhcp-range <start-end>",
      "--bridge <name>",
      "--template <file>",
      "--autostart",
      "--subnet6 <prefix>",
      "--uplink6 <addr[/prefix]|auto>",
      "--mode6 <nat66|nptv6|routed>",
      "--prefix6 <prefix>",
      "--dhcp6",
      "--json",
      "--dry-run",
    ].sort(),
  );
  assert.equal(o["--subnet <cidr>"]!.mandatory, true);
  assert.equal(o["--provider <bridge>"]!.mandatory, true);
  assert.equal(o["--uplink <addr[/prefix]|auto>"]!.default, "auto");
  assert.equal(o["--dns <addr>"]!.default, undefined, "no [] default (the help would show it)");
  const create = sub(tree(), "net create");
  create.parseOptions(["--dns", "9.9.9.9", "--dns", "1.1.1.1", "--subnet", "10.0.0.0/24"]);
  assert.deepEqual(create.opts().dns, ["9.9.9.9", "1.1.1.1"]);
  assert.equal(create.opts().uplink, "auto");
  // IPv6 (issue 17): no defaults, so an IPv4-only network stays one
  for (const k of ["--subnet6 <prefix>", "--uplink6 <addr[/prefix]|auto>", "--mode6 <nat66|nptv6|routed>"])
    assert.equal(o[k]!.default, undefined, k);
  assert.equal(create.opts().subnet6, undefined);
});

test("net delete, set, show, adopt, release, list: their options", () => {
  const t = tree();
  // the order of options is not part of the interface: compared as sets
  const flags = (p: string) => Object.keys(optionsOf(sub(t, p))).sort();
  assert.deepEqual(flags("net delete"), ["--force", "--json"].sort());
  assert.deepEqual(flags("net set"), ["--json", "--dry-run"].sort());
  assert.deepEqual(flags("net show"), ["--json"]);
  assert.deepEqual(
    flags("net adopt"),
    ["--provider <bridge>", "--uplink <addr[/prefix]|auto>", "--restart", "--dry-run", "--json"].sort(),
  );
  const adopt = optionsOf(sub(t, "net adopt"));
  assert.equal(adopt["--provider <bridge>"]!.mandatory, true);
  assert.equal(adopt["--uplink <addr[/prefix]|auto>"]!.default, "auto");
  assert.deepEqual(flags("net release"), ["--force", "--restart", "--dry-run", "--json"].sort());
  assert.deepEqual(flags("net list"), ["--json"]);
});

test("parse errors: an unknown subcommand, a missing argument", async () => {
  await assert.rejects(tree().parseAsync(["net", "frobnicate"], { from: "user" }), /unknown command 'frobnicate'/);
  await assert.rejects(tree().parseAsync(["net", "show"], { from: "user" }), /missing required argument 'net'/);
  await assert.rejects(tree().parseAsync(["net", "set", "web"], { from: "user" }), /missing required argument/);
});

test("registration is cheap: only commander and output.ts load; each action module is imported lazily", () => {
  assert.deepEqual(staticImports("src/cli/net/net.ts"), ["../output.ts", "commander"]);
  assert.deepEqual(dynamicImports("src/cli/net/net.ts"), [
    "./actions.ts",
    "./actions.ts",
    "./adopt.ts",
    "./adopt.ts",
    "./create.ts",
    "./set.ts",
    "./show.ts",
  ]);
});
