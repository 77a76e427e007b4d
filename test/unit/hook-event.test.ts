// The one reading of a hook call (src/hook/event.ts) over the one event table
// (src/core/events.ts): which calls vnat acts on, and the single check of the name.
import assert from "node:assert/strict";
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { pino } from "pino";
import { VnatError, oneLine } from "../../src/core/errors.ts";
import { HOOK_EVENTS, IGNORED_EVENTS, hookEvent, hookEventSpec, type HookEventName } from "../../src/core/events.ts";
import { concernsVnat, parseArgv } from "../../src/hook/event.ts";
import { runEvent, type HookEnv } from "../../src/hook/handlers.ts";
import type { Runner } from "../../src/exec/run.ts";

const VNAT_DOC = `<hookData><network><name>web</name><metadata><vnat:network xmlns:vnat="urn:vnat:network:1"/></metadata></network></hookData>`;
const OTHER_DOC = `<hookData><network><name>default</name><forward mode="nat"/></network></hookData>`;

function refusal(f: () => unknown): string {
  try {
    f();
  } catch (e) {
    assert.ok(e instanceof VnatError && e.kind === "invalid-input", String(e));
    return oneLine(e);
  }
  assert.fail("accepted");
}

describe("core/events.ts", () => {
  test("libvirt's five events map to vnat's, both ways", () => {
    const table: Array<[string, string, HookEventName]> = [
      ["start", "begin", "start-begin"],
      ["started", "begin", "started-begin"],
      ["stopped", "end", "stopped-end"],
      ["port-created", "begin", "port-created"],
      ["port-deleted", "begin", "port-deleted"],
    ];
    for (const [op, subop, event] of table) {
      assert.equal(hookEvent(op, subop), event);
      assert.deepEqual([HOOK_EVENTS[event].op, HOOK_EVENTS[event].subop], [op, subop]);
    }
    assert.equal(Object.keys(HOOK_EVENTS).length, table.length);
  });

  test("only `started` marks NAME.begun, only `stopped` clears it, only `start` has a fast path", () => {
    const events = Object.keys(HOOK_EVENTS) as HookEventName[];
    assert.deepEqual(
      events.filter((e) => hookEventSpec(e).begun === "mark"),
      ["started-begin"],
    );
    assert.deepEqual(
      events.filter((e) => hookEventSpec(e).begun === "clear"),
      ["stopped-end"],
    );
    assert.deepEqual(
      events.filter((e) => hookEventSpec(e).fastPath),
      ["start-begin"],
    );
  });

  test("ignored events and near misses are no event of vnat's", () => {
    for (const { op, subop } of IGNORED_EVENTS) assert.equal(hookEvent(op, subop), undefined);
    for (const [op, subop] of [
      ["start", "end"],
      ["Start", "begin"],
      ["start begin", ""],
      ["plugged", "begin"],
      ["__proto__", "x"],
      ["constructor", ""],
    ] as const)
      assert.equal(hookEvent(op, subop), undefined, `${op} ${subop}`);
  });
});

describe("hook/event.ts", () => {
  test("a handled event of a vnat network concerns vnat; others, whatever their name, do not", () => {
    assert.equal(concernsVnat(["web", "start", "begin", "-"], VNAT_DOC), true);
    assert.equal(concernsVnat(["web", "updated", "begin", "-"], VNAT_DOC), false);
    assert.equal(concernsVnat(["vnat-doctor", "doctor", "check", "-"], ""), false);
    // a network that is not vnat's may have a name vnat would refuse: the hook answers 0
    assert.equal(concernsVnat(["my net with spaces", "start", "begin", "-"], OTHER_DOC), false);
    assert.equal(concernsVnat(["x".repeat(64), "stopped", "end", "-"], OTHER_DOC), false);
    // the name is not looked at here: parseArgv refuses it
    assert.equal(concernsVnat(["a$(reboot)", "start", "begin", "-"], VNAT_DOC), true);
  });

  test("parseArgv checks the name, once, with validateNetworkName's line", () => {
    assert.deepEqual(parseArgv(["web.1", "started", "begin", "-"]), {
      name: "web.1",
      event: "started-begin",
      op: "started",
      subop: "begin",
    });
    assert.match(
      refusal(() => parseArgv(["a$(reboot)", "start", "begin", "-"])),
      /^network name "a\$\(reboot\)": only letters, digits/,
    );
    assert.equal(
      refusal(() => parseArgv(["x".repeat(64), "port-created", "begin", "-"])),
      `network name "${"x".repeat(40)}…" is 64 characters (vnat allows at most 32)`,
    );
  });

  test("bad arguments are refused in one line", () => {
    assert.equal(
      refusal(() => parseArgv(["web", "start"])),
      'hook arguments: expected "NAME OP SUBOP -", got 2 argument(s)',
    );
    assert.equal(
      refusal(() => concernsVnat([], VNAT_DOC)),
      'hook arguments: expected "NAME OP SUBOP -", got 0 argument(s)',
    );
    assert.equal(
      refusal(() => parseArgv(["web", "updated", "begin", "-"])),
      'hook event "updated begin": vnat handles no such event',
    );
    assert.equal(
      refusal(() => parseArgv(["web", "start\u001b[2J", "begin", "-"])),
      'hook event "start?[2J begin": vnat handles no such event',
    );
  });
});

describe("hook/handlers.ts runEvent: the one entry of hook/main.ts and the agent", () => {
  const dir = mkdtempSync(join(tmpdir(), "vnat-hook-event-"));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const commands: string[] = [];
  const runner: Runner = {
    run: async (cmd, args) => {
      commands.push([cmd, ...args].join(" "));
      return { exitCode: 1, stdout: "", stderr: "unit test: no commands" };
    },
  };
  const env: HookEnv = {
    runner,
    roots: { run: join(dir, "run"), config: join(dir, "config.json"), log: join(dir, "log") },
    log: pino({ enabled: false }),
  };
  /** nothing ran and nothing was written: not even the network's lock */
  const untouched = (): void => {
    assert.deepEqual(commands, []);
    assert.deepEqual(readdirSync(dir), []);
  };

  test("an event vnat ignores, or a network without vnat metadata, is answered at once", async () => {
    await runEvent(["web", "updated", "begin", "-"], VNAT_DOC, env);
    await runEvent(["vnat-doctor", "doctor", "check", "-"], "", env);
    await runEvent(["my net", "started", "begin", "-"], OTHER_DOC, env);
    untouched();
  });

  test("a bad name, or a document naming another network, is refused before anything is touched", async () => {
    await assert.rejects(
      runEvent(["a$(reboot)", "started", "begin", "-"], VNAT_DOC, env),
      /^VnatError: network name "a\$\(reboot\)": only letters/,
    );
    await assert.rejects(
      runEvent(["other", "stopped", "end", "-"], VNAT_DOC, env),
      (e: unknown) => oneLine(e) === 'network "other": hook data names network "web" (expected the same name)',
    );
    untouched();
  });
});
