// `vnat demo`'s refusals (src/demo/demo.ts), called directly and through the action
// src/cli/demo.ts registers: without vnat's hook in network.d the demo refuses in one line
// saying how to install it; with a config it cannot read, the demo and its cleanup refuse
// in one line naming the file, and neither builds, prints or removes anything first (the
// demo world of this test's tag stays absent, the run directory empty). The whole demo
// runs in test/e2e/demo.test.ts.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { Command } from "commander";
import { registerDemo } from "../../src/cli/demo.ts";
import { VnatError } from "../../src/core/errors.ts";
import { demoWorldDebris } from "../../src/demo/world.ts";

const TAG = "zq8";
const HOOK = "/etc/libvirt/hooks/network.d/vnat";
const base = mkdtempSync(join(tmpdir(), "vnat-demo-refusal-"));
const CONFIG = join(base, "config.json");
const RUN = join(base, "run");
mkdirSync(CONFIG); // a directory: the config cannot be read (EISDIR)
mkdirSync(RUN);
// demo.ts reads the tag when it loads, the roots at each call
process.env.VNAT_DEMO_TAG = TAG;
process.env.VNAT_CONFIG = CONFIG;
process.env.VNAT_RUN_DIR = RUN;
const demo = await import("../../src/demo/demo.ts");
after(() => rmSync(base, { recursive: true, force: true }));

const HOOK_REFUSAL = `demo: vnat's hook ${HOOK} is not installed (run: sudo ./install.sh --demo)`;
const CONFIG_REFUSAL = `config ${CONFIG}: cannot be read (EISDIR); fix it or remove it`;

/** Runs FN with what it prints captured; returns what it printed and how it failed. */
async function refusal(fn: () => Promise<unknown>): Promise<{ printed: string; error: VnatError }> {
  const printed: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  // the demo prints strings (its say()); the test runner's own messages are bytes: passed on
  process.stdout.write = ((chunk: string | Uint8Array, ...rest: never[]): boolean => {
    if (typeof chunk === "string") {
      printed.push(chunk);
      return true;
    }
    return write(chunk, ...rest);
  }) as typeof process.stdout.write;
  try {
    await fn();
  } catch (e) {
    assert.ok(e instanceof VnatError, `not a VnatError: ${String(e)}`);
    return { printed: printed.join(""), error: e };
  } finally {
    process.stdout.write = write;
  }
  assert.fail("it did not refuse");
}

/** The demo's refusal on this machine now: no hook, or (hook installed) the config. */
const demoRefusal = (): string => (existsSync(HOOK) ? CONFIG_REFUSAL : HOOK_REFUSAL);

async function assertNothingMade(): Promise<void> {
  assert.deepEqual(await demoWorldDebris(TAG), []);
  assert.deepEqual(readdirSync(RUN), []);
}

describe("vnat demo refusals", () => {
  test("runDemo refuses in one invalid-input line before building or printing anything", async () => {
    const expected = demoRefusal();
    const { printed, error } = await refusal(() => demo.runDemo());
    assert.equal(error.kind, "invalid-input");
    assert.equal(error.message, expected);
    assert.equal(printed, "");
    await assertNothingMade();
  });

  test("cleanupDemo with a config it cannot read: one line naming the file, nothing removed", async () => {
    const { printed, error } = await refusal(() => demo.cleanupDemo());
    assert.equal(error.kind, "invalid-input");
    assert.equal(error.message, CONFIG_REFUSAL);
    assert.equal(printed, "");
    await assertNothingMade();
  });

  test("through `vnat demo`: without --cleanup the demo runs (and refuses as runDemo does)", async () => {
    const p = new Command("vnat").exitOverride();
    registerDemo(p);
    const expected = demoRefusal();
    const { error } = await refusal(() => p.parseAsync(["demo"], { from: "user" }));
    assert.equal(error.message, expected);
    await assertNothingMade();
  });

  test("through `vnat demo --cleanup`: the cleanup runs (its refusal, whether or not the hook is there)", async () => {
    const p = new Command("vnat").exitOverride();
    registerDemo(p);
    const { error } = await refusal(() => p.parseAsync(["demo", "--cleanup"], { from: "user" }));
    assert.equal(error.message, CONFIG_REFUSAL);
    await assertNothingMade();
  });
});
