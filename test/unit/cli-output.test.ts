// src/cli/output.ts: one shape for what changing commands print (prose or one JSON object),
// warnings on stderr, and writes that reach a slow pipe whole.
import assert from "node:assert/strict";
import { test } from "node:test";
import { Command } from "commander";
import { changeOptions } from "../../src/cli/output.ts";
import { runTs } from "../support/cli.ts";

const imp = `import { report, warn, writeOut } from "./src/cli/output.ts";`;

test("changeOptions adds --json, and --dry-run only when told what a dry run does", () => {
  const plain = changeOptions(new Command("x"));
  assert.deepEqual(
    plain.options.map((o) => o.long),
    ["--json"],
  );
  const dry = changeOptions(new Command("y"), "change nothing");
  assert.deepEqual(
    dry.options.map((o) => [o.long, o.description]),
    [
      ["--json", "print what was done as one JSON object"],
      ["--dry-run", "change nothing"],
    ],
  );
  dry.exitOverride().parse(["--json", "--dry-run"], { from: "user" });
  assert.deepEqual(dry.opts(), { json: true, dryRun: true });
});

test("report, human: lines joined, one final newline; warnings first on stderr", () => {
  const r = runTs(`${imp}
    await report({}, ["first", "second"], { a: 1 }, ["look here"]);
    await report({}, "ends\\n", {});
    await report({ dryRun: true }, "plain", { b: 2 });`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, "first\nsecond\nends\nplain\n");
  assert.equal(r.stderr, "vnat: warning: look here\n");
});

test("report, --json: one object, dryRun and warnings added only when there are some", () => {
  const r = runTs(`${imp}
    await report({ json: true }, "ignored", { network: "web", deleted: true });
    await report({ json: true, dryRun: true }, "ignored", { n: 1 }, ["w1", "w2"]);`);
  assert.equal(r.status, 0, r.stderr);
  const docs = r.stdout.split(/\n(?=\{)/).map((d) => JSON.parse(d) as unknown);
  assert.deepEqual(docs, [
    { network: "web", deleted: true },
    { n: 1, dryRun: true, warnings: ["w1", "w2"] },
  ]);
  assert.ok(r.stdout.startsWith('{\n  "network": "web"'), "pretty-printed");
  assert.equal(r.stderr, "vnat: warning: w1\nvnat: warning: w2\n");
});

test("warn: one prefixed line on stderr, nothing on stdout", () => {
  const r = runTs(`${imp} warn("network \\"x\\": odd");`);
  assert.deepEqual([r.stdout, r.stderr], ["", 'vnat: warning: network "x": odd\n']);
});

test("writeOut resolves once a large document is handed over: a process exiting right after loses nothing", () => {
  const r = runTs(`${imp} await writeOut("x".repeat(300_000) + "\\n"); process.exit(0);`);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.length, 300_000 + 1);
});
