// src/cli/log/log.ts: `vnat log [network]` and its options; -n takes a count of lines only;
// log-run.ts loads lazily.
import assert from "node:assert/strict";
import { test } from "node:test";
import { registerLog } from "../../src/cli/log/log.ts";
import { argsOf, dynamicImports, optionsOf, registered, staticImports, sub } from "../support/cli.ts";

test("log [network] with --follow, --lines, --since, --json", () => {
  const log = sub(registered(registerLog), "log");
  assert.deepEqual(argsOf(log), ["[network]"]);
  assert.deepEqual(Object.keys(optionsOf(log)), ["-f, --follow", "-n, --lines <n>", "--since <when>", "--json"]);
  assert.ok(Object.values(optionsOf(log)).every((o) => o.default === undefined && !o.mandatory));
});

test("-n: 0 or more lines, as a number", () => {
  for (const [v, n] of [
    ["0", 0],
    ["10", 10],
    ["123456789", 123456789],
  ] as const) {
    const log = sub(registered(registerLog), "log");
    log.parseOptions(["-n", v]);
    assert.equal(log.opts().lines, n);
  }
});

test("-n refuses what is not a count of lines", async () => {
  for (const v of ["-1", "abc", "1.5", "", "1234567890", "10x"])
    await assert.rejects(
      registered(registerLog).parseAsync(["log", "--lines", v], { from: "user" }),
      (e: Error) => e.message.includes(`argument '${v}' is invalid. a number of lines (0 or more)`),
      v,
    );
});

test("registration is cheap: commander only; log-run.ts inside the action", () => {
  assert.deepEqual(staticImports("src/cli/log/log.ts"), ["commander"]);
  assert.deepEqual(dynamicImports("src/cli/log/log.ts"), ["./run.ts"]);
});
