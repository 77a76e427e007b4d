// `vnat demo [--cleanup]` as registered on a fresh commander program (src/cli/demo.ts): its
// name, description and one flag; anything else on its command line is refused by commander
// before the action runs (the demo itself runs in test/e2e/demo.test.ts; its refusals in
// test/integration/demo-demo.test.ts). Should the action run by mistake, the environment
// below makes the demo refuse at once: a bad tag and a config path that cannot be read.
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Command, CommanderError } from "commander";
import { registerDemo } from "../../src/cli/demo.ts";

const guard = mkdtempSync(join(tmpdir(), "vnat-cli-demo-"));
process.env.VNAT_DEMO_TAG = "BAD!";
process.env.VNAT_CONFIG = guard;
process.env.VNAT_RUN_DIR = guard;
after(() => rmSync(guard, { recursive: true, force: true }));

function program(): { p: Command; demo: Command; out: string[] } {
  const out: string[] = [];
  const p = new Command("vnat")
    .exitOverride()
    .configureOutput({ writeOut: (s) => void out.push(s), writeErr: (s) => void out.push(s) });
  registerDemo(p);
  const demo = p.commands.find((c) => c.name() === "demo");
  assert.ok(demo, "vnat demo is registered");
  demo.exitOverride().configureOutput({ writeOut: (s) => void out.push(s), writeErr: (s) => void out.push(s) });
  return { p, demo, out };
}

describe("vnat demo (registration)", () => {
  test("one command, demo, with its description, no arguments and the one flag --cleanup", () => {
    const { p, demo } = program();
    assert.deepEqual(
      p.commands.map((c) => c.name()),
      ["demo"],
    );
    assert.equal(
      demo.description(),
      "run two vnat networks on 10.0.0.0/24 against a sandboxed provider network, with a guest on each",
    );
    assert.equal(demo.registeredArguments.length, 0);
    assert.deepEqual(
      demo.options.map((o) => ({ long: o.long, short: o.short, takesValue: o.required || o.optional })),
      [{ long: "--cleanup", short: undefined, takesValue: false }],
    );
    assert.equal(demo.options[0]!.description, "remove everything the demo made");
  });

  test("its help names the flag and what it does", () => {
    const { demo } = program();
    const help = demo.helpInformation();
    assert.match(help, /^Usage: vnat demo \[options\]$/m);
    assert.match(help, /--cleanup\s+remove everything the demo made/);
  });

  for (const [args, code] of [
    [["demo", "--bogus"], "commander.unknownOption"],
    [["demo", "extra"], "commander.excessArguments"],
    [["demo", "--cleanup=yes"], "commander.unknownOption"],
  ] as const)
    test(`vnat ${args.join(" ")}: refused by commander (${code}) before the demo runs`, async () => {
      const { p, out } = program();
      await assert.rejects(p.parseAsync([...args], { from: "user" }), (e: unknown) => {
        assert.ok(e instanceof CommanderError, `not a commander refusal: ${String(e)}`);
        assert.equal(e.code, code);
        return true;
      });
      assert.equal(out.join("").trim().split("\n").length, 1, out.join(""));
    });
});
