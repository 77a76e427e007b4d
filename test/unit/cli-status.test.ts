// src/cli/status/status.ts: `vnat status [networks...]` with --json and --probe; status-run.ts loads lazily.
import assert from "node:assert/strict";
import { test } from "node:test";
import { registerStatus } from "../../src/cli/status/status.ts";
import { argsOf, dynamicImports, optionsOf, registered, staticImports, sub } from "../support/cli.ts";

test("status takes any number of networks, --json and --probe", () => {
  const s = sub(registered(registerStatus), "status");
  assert.deepEqual(argsOf(s), ["[networks...]"]);
  assert.deepEqual(optionsOf(s), {
    "--json": { mandatory: false, default: undefined },
    "--probe": { mandatory: false, default: undefined },
  });
  assert.match(s.description(), /libvirt state, namespace, links, NAT, leases, health/);
});

test("an unknown option is refused", async () => {
  await assert.rejects(
    registered(registerStatus).parseAsync(["status", "--probes"], { from: "user" }),
    /unknown option '--probes'/,
  );
});

test("registration is cheap: commander only; status-run.ts inside the action", () => {
  assert.deepEqual(staticImports("src/cli/status/status.ts"), ["commander"]);
  assert.deepEqual(dynamicImports("src/cli/status/status.ts"), ["./run.ts"]);
});
