// The journal (exec/change/journal.ts) with a recording runner: fail at step k, assert the undo ran
// in reverse; a failing undo is reported, never swallowed; a settle plan only warns.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { VnatError } from "../../src/core/errors.ts";
import type { Op, Plan, Step } from "../../src/core/plan/plan.ts";
import { Journal, StepFailed, transact } from "../../src/exec/change/journal.ts";
import type { RunResult, Runner } from "../../src/exec/run.ts";

const roots = { run: "/nonexistent", config: "/nonexistent", log: "/nonexistent" };

/** Records every command; FAIL names commands (first argument) that exit 1 with "boom". */
function recorder(...fail: string[]): Runner & { calls: string[] } {
  const calls: string[] = [];
  return {
    calls,
    async run(cmd, args): Promise<RunResult> {
      calls.push([cmd, ...args].join(" "));
      await new Promise((r) => setTimeout(r, 1));
      return fail.includes(args[0] ?? "") ? { exitCode: 1, stdout: "", stderr: `boom ${args[0]}\n` } : ok;
    },
  };
}
const ok: RunResult = { exitCode: 0, stdout: "", stderr: "" };

/** A step NAME doing `true NAME`, undone by `undo NAME`. */
const step = (name: string, extra: Partial<Op> = {}): Step => ({
  name,
  ops: [
    {
      action: { kind: "run", argv: ["do", name] },
      undo: { kind: "run", argv: ["undo", name], what: `undo ${name}` },
      ...extra,
    },
  ],
});

const wording = {
  where: `test "w"`,
  what: (e: unknown) => (e instanceof StepFailed ? `step "${e.step}" failed: ${e.message}` : String(e)),
  undone: (_e: unknown, what: string) => new VnatError("apply-failed", `test "w": ${what} (everything undone)`),
};

describe("journal", () => {
  test("a failure at step 3 undoes steps 2 and 1, in reverse, and nothing of step 3", async () => {
    const runner = recorder("c");
    const plan: Plan = { stages: [[step("a")], [step("b")], [step("c")], [step("d")]] };
    await assert.rejects(
      transact({ runner, roots }, wording, (j) => j.run(plan)),
      (e: unknown) => (
        assert.ok(e instanceof VnatError),
        assert.equal(e.kind, "apply-failed"),
        assert.equal(e.message, `test "w": step "c" failed: boom c (everything undone)`),
        true
      ),
    );
    assert.deepEqual(runner.calls, ["do a", "do b", "do c", "undo b", "undo a"]);
  });

  test("the steps of a stage all settle before the failure: the one that succeeded is undone too", async () => {
    const runner = recorder("b");
    const plan: Plan = { stages: [[step("a")], [step("b"), step("c")], [step("d")]] };
    await assert.rejects(
      transact({ runner, roots }, wording, (j) => j.run(plan)),
      /step "b" failed: boom b/,
    );
    assert.deepEqual(runner.calls, ["do a", "do b", "do c", "undo c", "undo a"]);
  });

  test("an undo registered first runs even when its action failed", async () => {
    const runner = recorder("b");
    const plan: Plan = { stages: [[step("a")], [step("b", { undoFirst: true })]] };
    await assert.rejects(transact({ runner, roots }, wording, (j) => j.run(plan)));
    assert.deepEqual(runner.calls, ["do a", "do b", "undo b", "undo a"]);
  });

  test("an undo that fails is reported as rollback-incomplete, naming it; the other undos still run", async () => {
    const runner = recorder("c", "b");
    const plan: Plan = {
      stages: [[step("a")], [step("b", { action: { kind: "run", argv: ["do", "x"] } })], [step("c")]],
    };
    // "undo b" fails (its first argument is b)
    await assert.rejects(
      transact({ runner, roots }, wording, (j) => j.run(plan)),
      (e: unknown) => (
        assert.ok(e instanceof VnatError),
        assert.equal(e.kind, "rollback-incomplete"),
        assert.equal(e.message, `test "w": step "c" failed: boom c; rollback incomplete: undo b: boom b`),
        true
      ),
    );
    assert.deepEqual(runner.calls, ["do a", "do x", "do c", "undo b", "undo a"]);
  });

  test("a failure stderr matches TOLERATE is success; FAIL prefixes the cause", async () => {
    const runner = recorder("t", "f");
    const plan: Plan = {
      stages: [
        [{ name: "t", ops: [{ action: { kind: "run", argv: ["do", "t"], tolerate: "^boom t" } }] }],
        [{ name: "f", ops: [{ action: { kind: "run", argv: ["do", "f"], fail: "add f" } }] }],
      ],
    };
    await assert.rejects(
      transact({ runner, roots }, wording, (j) => j.run(plan)),
      /step "f" failed: add f: boom f/,
    );
  });

  test("the failpoint fails right after the named step's stage", async () => {
    const runner = recorder();
    const plan: Plan = { stages: [[step("a"), step("b")], [step("c")]] };
    await assert.rejects(
      transact({ runner, roots, failpoint: "a" }, wording, (j) => j.run(plan)),
      /step "a" failed: injected failure \(VNAT_FAILPOINT\)/,
    );
    assert.deepEqual(runner.calls, ["do a", "do b", "undo b", "undo a"]);
  });

  test("settle runs every action and returns the failures as warnings, undoing nothing", async () => {
    const runner = recorder("b");
    const plan: Plan = {
      stages: [
        [step("a")],
        [{ name: "b", ops: [{ action: { kind: "run", argv: ["do", "b"], fail: "b" } }] }],
        [step("c")],
      ],
    };
    assert.deepEqual(await new Journal({ runner, roots }).settle(plan), ["b: boom b"]);
    assert.deepEqual(runner.calls, ["do a", "do b", "do c"]);
  });
});
