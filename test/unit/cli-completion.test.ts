// src/cli/docs/completion.ts: `vnat completion bash|zsh` prints a script generated from the whole
// tree (whichever group it is registered in), and the hidden `vnat manpage` prints roff.
import assert from "node:assert/strict";
import { test } from "node:test";
import { registerCompletion } from "../../src/cli/docs/completion.ts";
import { argsOf, dynamicImports, registered, runTs, staticImports, sub } from "../support/cli.ts";

test("completion <shell> with the choices bash and zsh; manpage is hidden", async () => {
  const t = registered(registerCompletion);
  const c = sub(t, "completion");
  assert.deepEqual(argsOf(c), ["<shell>"]);
  assert.deepEqual(c.registeredArguments[0]!.argChoices, ["bash", "zsh"]);
  await assert.rejects(
    registered(registerCompletion).parseAsync(["completion", "fish"], { from: "user" }),
    /'fish' is invalid for argument 'shell'. Allowed choices are bash, zsh/,
  );
  assert.ok(sub(t, "manpage"));
  assert.doesNotMatch(t.helpInformation(), /manpage/, "hidden from the help");
  assert.match(t.helpInformation(), /completion <shell>/);
});

// a tree with a made-up group beside completion: the script covers the root's whole tree
const program = `import { Command } from "commander";
  import { registerCompletion } from "./src/cli/docs/completion.ts";
  const p = new Command("vnat");
  p.command("zebra").description("a made-up group").command("stripe <n>").option("--wide", "w");
  registerCompletion(p);`;

test("bash: a completion script listing the root's commands, options and arguments", () => {
  const r = runTs(`${program} await p.parseAsync(["completion", "bash"], { from: "user" });`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^# bash completion for vnat/);
  assert.match(r.stdout, /cmds='zebra completion/);
  assert.match(r.stdout, /'zebra stripe'\)[\s\S]*?flags='--wide/);
  assert.match(r.stdout, /complete .*vnat/);
});

test("zsh: a #compdef script for the same tree", () => {
  const r = runTs(`${program} await p.parseAsync(["completion", "zsh"], { from: "user" });`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^#compdef vnat/);
  assert.match(r.stdout, /zebra/);
  assert.match(r.stdout, /stripe/);
});

test("manpage: roff with vnat's version and the tree's commands", () => {
  const r = runTs(`${program} await p.parseAsync(["manpage"], { from: "user" });`);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^\.\\" generated/);
  assert.match(r.stdout, /\.TH VNAT 1 "" "vnat 0\.1\.0"/);
  assert.match(r.stdout, /zebra/);
});

test("registration is cheap: commander and output.ts; docgen, program and man-text inside the actions", () => {
  assert.deepEqual(staticImports("src/cli/docs/completion.ts"), ["../output.ts", "commander"]);
  assert.deepEqual(dynamicImports("src/cli/docs/completion.ts"), [
    "../program.ts",
    "./docgen.ts",
    "./docgen.ts",
    "./man-text.ts",
  ]);
});
