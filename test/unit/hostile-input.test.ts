// The hostile-input corpus (test/corpus/) through the hook's own code path, without
// processes: every refused document gives exactly its expected one-line message before
// anything runs, every accepted one renders to text of vnat's strict grammar; then a
// seeded fuzzer mutates valid documents and checks the same two properties.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { pino } from "pino";
import { EMPTY_CONFIG } from "../../src/core/input/config.ts";
import { MAX_LINE, oneLine, VnatError } from "../../src/core/errors.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import type { Roots } from "../../src/core/paths.ts";
import { buildSpec } from "../../src/core/input/spec.ts";
import { parseArgv } from "../../src/hook/event.ts";
import { handle, type HookEnv } from "../../src/hook/handlers.ts";
import type { Runner } from "../../src/exec/run.ts";
import { expectPattern, loadCorpus, type CorpusVars } from "../support/corpus.ts";
import { mutateDocument, rng } from "../support/mutate.ts";
import { HOST_ADDRS, nftSkeletons, renderViolations } from "../support/render-grammar.ts";
import { renderNft } from "../../src/core/plan/render.ts";

const vars: CorpusVars = {
  NAME: "corpus1",
  LAN_BRIDGE: "vlan-unit",
  UPLINK_BRIDGE: "vprov-unit",
  UPLINK: "198.51.100.31/24",
  GATEWAY: "198.51.100.1",
  DNS: "198.18.0.10",
  FLOATING: "198.51.100.250",
};
const roots: Roots = {
  run: "/nonexistent/vnat-unit/run",
  config: "/nonexistent/vnat-unit/config.json",
  log: "/nonexistent/vnat-unit/log",
};
const commands: string[] = [];
const recordingRunner: Runner = {
  run: async (cmd, args) => {
    commands.push([cmd, ...args].join(" "));
    return { exitCode: 1, stdout: "", stderr: "unit test: no commands" };
  },
};
const env: HookEnv = { runner: recordingRunner, roots, log: pino({ enabled: false }) };

/** What the hook does with stdin at `start begin`, minus the process: the error it exits with. */
async function startBegin(argvName: string, stdin: string): Promise<unknown> {
  try {
    await handle(parseArgv([argvName, "start", "begin", "-"]), parseHookData(stdin), env);
  } catch (e) {
    return e;
  }
  return undefined;
}

/** A message fit for one line of virsh's error: printable ASCII, bounded. */
function assertCleanLine(line: string): void {
  assert.ok(line.length > 0 && line.length <= MAX_LINE, `length ${line.length}`);
  assert.match(line, /^[\x20-\x7e…]+$/, `not printable: ${JSON.stringify(line)}`);
}

const accepted = loadCorpus("accepted", vars);
const reference = nftSkeletons(
  renderNft(
    buildSpec(parseHookData(accepted.find((a) => a.id === "full-featured")!.stdin).network, EMPTY_CONFIG),
    HOST_ADDRS,
  ),
);

describe("hostile corpus: refused at start begin", () => {
  for (const item of loadCorpus("refused", vars))
    test(`${item.id}: ${item.why}`, async () => {
      const e = await startBegin(item.argv, item.stdin);
      assert.ok(e instanceof VnatError, `expected a VnatError, got ${String(e)}`);
      assert.equal(e.kind, "invalid-input");
      assert.equal(e.exitCode, item.exit);
      assert.match(oneLine(e), expectPattern(item.expect!));
      assertCleanLine(oneLine(e));
      assert.deepEqual(commands, [], "a command ran");
    });
});

describe("odd but valid corpus: accepted, rendered only from validated fields", () => {
  for (const item of accepted)
    test(`${item.id}: ${item.why}`, () => {
      const spec = buildSpec(parseHookData(item.stdin).network, EMPTY_CONFIG);
      assert.equal(spec.name, item.argv);
      assert.deepEqual(renderViolations(spec, roots, reference), []);
    });
});

describe("property: mutated documents are refused cleanly or render to vnat's grammar", () => {
  const seed = Number(process.env.VNAT_FUZZ_SEED ?? Math.floor(Math.random() * 2 ** 31));
  const iterations = Number(process.env.VNAT_FUZZ_ITERATIONS ?? 3000);
  test(`seed ${seed}, ${iterations} documents (VNAT_FUZZ_SEED=${seed} reproduces)`, (t) => {
    const r = rng(seed);
    const bases = accepted.filter((a) => a.id !== "guest-port");
    let ok = 0;
    let refused = 0;
    for (let i = 0; i < iterations; i++) {
      const base = bases[i % bases.length]!;
      const { doc } = mutateDocument(r, base.stdin);
      let spec;
      try {
        spec = buildSpec(parseHookData(doc).network, EMPTY_CONFIG);
      } catch (e) {
        assert.ok(e instanceof VnatError && e.kind === "invalid-input", `#${i} threw ${String(e)}\n${doc}`);
        assertCleanLine(oneLine(e));
        refused++;
        continue;
      }
      assert.deepEqual(renderViolations(spec, roots, reference), [], `#${i} (seed ${seed}) rendered:\n${doc}`);
      ok++;
    }
    t.diagnostic(`seed ${seed}: ${iterations} documents, ${ok} accepted, ${refused} refused, 0 violations`);
    assert.ok(ok > iterations / 20, `only ${ok} mutated documents were accepted: the property checked too little`);
  });
});
