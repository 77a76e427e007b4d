// src/cli/doctor/doctor.ts: `vnat doctor [--json]`, no arguments; doctor-run.ts loads lazily.
import assert from "node:assert/strict";
import { test } from "node:test";
import { registerDoctor } from "../../src/cli/doctor/doctor.ts";
import { argsOf, dynamicImports, optionsOf, registered, staticImports, sub } from "../support/cli.ts";

test("doctor: no arguments, --json only", async () => {
  const d = sub(registered(registerDoctor), "doctor");
  assert.deepEqual(argsOf(d), []);
  assert.deepEqual(Object.keys(optionsOf(d)), ["--json"]);
  await assert.rejects(
    registered(registerDoctor).parseAsync(["doctor", "extra"], { from: "user" }),
    /too many arguments for 'doctor'/,
  );
});

test("registration is cheap: commander only; doctor-run.ts inside the action", () => {
  assert.deepEqual(staticImports("src/cli/doctor/doctor.ts"), ["commander"]);
  assert.deepEqual(dynamicImports("src/cli/doctor/doctor.ts"), ["./run.ts"]);
});
