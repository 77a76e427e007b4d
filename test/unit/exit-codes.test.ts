// One voice: one exit-code table (src/core/errors.ts, copied into docs/exit-codes.md), one
// "vnat: " prefix, and commander's parse errors spoken as vnat's usage errors.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import type { Command } from "commander";
import { EXIT_TABLE, exitCode, VnatError } from "../../src/core/errors.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));

/** vnat from source, as a user of uid `uid` */
function vnat(args: string[], uid?: number): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, ["--import", "tsx", `${REPO}src/cli/main.ts`, ...args], {
    encoding: "utf8",
    cwd: REPO,
    ...(uid === undefined ? {} : { uid, gid: uid }),
  });
}

test("the table: unique codes and kinds; the hook's codes (2-5, 70) are the ones it always had", () => {
  assert.equal(new Set(EXIT_TABLE.map((r) => r.code)).size, EXIT_TABLE.length);
  assert.equal(new Set(EXIT_TABLE.map((r) => r.kind)).size, EXIT_TABLE.length);
  const kinds = ["invalid-input", "conflict", "apply-failed", "rollback-incomplete", "internal"] as const;
  assert.deepEqual(
    kinds.map((k) => new VnatError(k, "x").exitCode),
    [2, 3, 4, 5, 70],
  );
  assert.equal(exitCode("needs-attention"), 1);
  assert.equal(exitCode("usage"), 64);
  assert.equal(exitCode("needs-root"), 77);
});

test("docs/exit-codes.md holds the table as the code has it", () => {
  const doc = readFileSync(`${REPO}docs/exit-codes.md`, "utf8");
  const block = /<!-- exit-table: begin -->\n([\s\S]*?)<!-- exit-table: end -->/.exec(doc)?.[1];
  assert.ok(block, "the table's markers");
  const rows = block
    .trim()
    .split("\n")
    .slice(2)
    .map((l) => l.split("|").map((c) => c.trim()));
  assert.deepEqual(
    rows.map((c) => ({ code: Number(c[1]), kind: c[2], meaning: c[3] })),
    EXIT_TABLE.map((r) => ({ ...r })),
  );
});

test("an unknown option is named as unknown, before a missing required option", () => {
  const r = vnat(["net", "create", "x", "--subnett", "10.0.0.0/24"]);
  assert.equal(r.status, 64);
  assert.equal(
    r.stderr,
    "vnat: net create: unknown option '--subnett' (did you mean one of --subnet, --subnet6? see vnat net create --help)\n",
  );
});

test("a missing required option, argument or command: one vnat line, exit 64", () => {
  const cases: Array<[string[], string]> = [
    [
      ["net", "create", "x", "--provider", "br0"],
      "vnat: net create: required option '--subnet <cidr>' not specified (see vnat net create --help)",
    ],
    [["net", "create"], "vnat: net create: missing required argument 'name' (see vnat net create --help)"],
    [["bogus"], "vnat: unknown command 'bogus' (see vnat --help)"],
  ];
  for (const [args, line] of cases) {
    const r = vnat(args);
    assert.equal(r.status, 64, args.join(" "));
    assert.equal(r.stderr, `${line}\n`);
  }
  const bare = vnat(["net"]);
  assert.equal(bare.status, 64, "a group without its command shows its help");
  assert.match(bare.stderr, /^Usage: vnat net /);
});

test("help and --version exit 0", () => {
  assert.equal(vnat(["--version"]).status, 0);
  const h = vnat(["net", "create", "--help"]);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /^Usage: vnat net create/);
});

test("a read as non-root (the test runs as root): needs root, exit 77, the prefix once", () => {
  const r = vnat(["status"], 65534);
  assert.equal(r.stderr, "vnat: status: needs root (it reads network namespaces and /run/vnat)\n");
  assert.equal(r.status, 77);
});

test("no option's help shows an empty default such as '(default: [])'", async () => {
  const { buildProgram } = await import("../../src/cli/program.ts");
  const walk = (c: Command): Command[] => [c, ...c.commands.flatMap(walk)];
  const empty = walk(buildProgram()).flatMap((c) =>
    c.options
      .filter((o) => Array.isArray(o.defaultValue) && (o.defaultValue as unknown[]).length === 0)
      .map((o) => `${c.name()} ${o.flags}`),
  );
  assert.deepEqual(empty, []);
});
