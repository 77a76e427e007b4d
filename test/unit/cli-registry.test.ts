// src/cli/registry.ts: every command group on the root, in the order the help lists them,
// and registering them all loads the group files only (no action module, no adapter).
import assert from "node:assert/strict";
import { test } from "node:test";
import { registerCommands } from "../../src/cli/registry.ts";
import { modulesLoaded, registered } from "../support/cli.ts";

test("the groups, in order", () => {
  const p = registered(registerCommands);
  assert.deepEqual(
    p.commands.map((c) => c.name()),
    [
      "provider",
      "net",
      "forward",
      "floating",
      "host",
      "attach",
      "detach",
      "status",
      "reconcile",
      "metrics",
      "exporter",
      "exec",
      "log",
      "doctor",
      "demo",
      "completion",
      "manpage",
    ],
  );
  assert.deepEqual(
    p.commands.find((c) => c.name() === "net")!.commands.map((c) => c.name()),
    ["create", "delete", "set", "show", "adopt", "release", "list"],
  );
});

test("registering every command loads the group files, output.ts and umask.ts, nothing else of vnat", () => {
  const { loaded, ran } = modulesLoaded(
    `const { Command } = await import("commander");
     const { registerCommands } = await import("./src/cli/registry.ts");
     const p = new Command("vnat"); registerCommands(p); console.log(p.commands.length);`,
  );
  assert.equal(ran.status, 0, ran.stderr);
  assert.equal(ran.stdout, "17\n");
  assert.deepEqual(loaded, [
    "src/cli/attach/attach.ts",
    "src/cli/demo.ts",
    "src/cli/docs/completion.ts",
    "src/cli/doctor/doctor.ts",
    "src/cli/exec/exec.ts",
    "src/cli/exporter/exporter.ts",
    "src/cli/inbound/floating.ts",
    "src/cli/inbound/forward.ts",
    "src/cli/inbound/host.ts",
    "src/cli/log/log.ts",
    "src/cli/metrics/metrics.ts",
    "src/cli/net/net.ts",
    "src/cli/output.ts",
    "src/cli/provider/provider.ts",
    "src/cli/reconcile/reconcile.ts",
    "src/cli/registry.ts",
    "src/cli/status/status.ts",
    "src/cli/umask.ts",
  ]);
});

test("the recorder sees lazy imports: running an action loads its module", () => {
  const { loaded, ran } = modulesLoaded(
    `const { Command } = await import("commander");
     const { registerCommands } = await import("./src/cli/registry.ts");
     const p = new Command("vnat").exitOverride(); registerCommands(p);
     await p.parseAsync(["exec", "web", "--"], { from: "user" }).catch((e) => console.log(e.kind));`,
  );
  assert.equal(ran.stdout, "invalid-input\n", ran.stderr);
  assert.ok(loaded.includes("src/cli/exec/run.ts"), loaded.join(" "));
  assert.ok(loaded.includes("src/adapters/libvirt/virsh.ts"));
});
