// src/cli/log/run.ts: `vnat log` reads the hook's log under VNAT_LOG_DIR (a temp dir here),
// filters it by network, --since and --lines, prints readable lines or the raw JSON
// records, and follows it with --follow.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { appendFileSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { log } from "../../src/cli/log/run.ts";
import { VnatError } from "../../src/core/errors.ts";
import { capture, REPO, tempRoots } from "../support/cli.ts";

const now = Date.now();
const rec = (ageMs: number, network: string, msg: string, level = 30) =>
  JSON.stringify({ level, time: now - ageMs, name: "hook", network, event: "start-begin", msg });
const LINES = [
  rec(3 * 3600_000, "web", "validated"),
  rec(2 * 3600_000, "db", "namespace started"),
  "not json at all",
  rec(30 * 60_000, "web", "namespace removed", 40),
  rec(60_000, "web", "hook failed", 50),
];

let roots: ReturnType<typeof tempRoots>;
before(() => {
  roots = tempRoots();
  mkdirSync(roots.log);
  writeFileSync(join(roots.log, "hook.log"), LINES.join("\n") + "\n");
});
after(() => roots.undo());

test("all lines, readable: one per record (a non-JSON line kept as text), in order", async () => {
  const r = await capture(() => log(undefined, {}));
  assert.equal(r.error, undefined);
  const out = r.out.trimEnd().split("\n");
  assert.equal(out.length, 5);
  assert.match(out[0]!, /\bweb\b.*validated/);
  assert.match(out[1]!, /\bdb\b.*namespace started/);
  assert.match(out[2]!, /not json at all/);
  assert.match(out[3]!, /warning.*namespace removed/);
  assert.match(out[4]!, /failed.*hook failed/);
  assert.equal(r.err, "");
});

test("a network's lines only; --lines keeps the last N; 0 prints nothing", async () => {
  const web = await capture(() => log("web", {}));
  assert.deepEqual(
    web.out
      .trimEnd()
      .split("\n")
      .map((l) => /validated|namespace removed|hook failed/.exec(l)?.[0]),
    ["validated", "namespace removed", "hook failed"],
  );
  const last = await capture(() => log("web", { lines: 1 }));
  assert.equal(last.out.trimEnd().split("\n").length, 1);
  assert.match(last.out, /hook failed/);
  const none = await capture(() => log(undefined, { lines: 0 }));
  assert.deepEqual([none.out, none.err], ["", ""]);
});

test("--since: a duration back keeps the newer records; --json prints the raw records only", async () => {
  const r = await capture(() => log(undefined, { since: "90m" }));
  assert.deepEqual(
    r.out
      .trimEnd()
      .split("\n")
      .map((l) => /namespace removed|hook failed/.exec(l)?.[0]),
    ["namespace removed", "hook failed"],
  );
  const j = await capture(() => log("web", { json: true }));
  assert.equal(j.out, [LINES[0], LINES[3], LINES[4]].join("\n") + "\n");
});

test("refusals before reading: a bad network name, a bad --since (invalid input, one line)", async () => {
  for (const [net, since, re] of [
    ["bad name", undefined, /^network name "bad name"/],
    [undefined, "yesterday", /^--since "yesterday": expected a duration/],
  ] as const) {
    const r = await capture(() => log(net, since === undefined ? {} : { since }));
    assert.ok(r.error instanceof VnatError, String(r.error));
    assert.equal(r.error.kind, "invalid-input");
    assert.match(r.error.message, re);
    assert.doesNotMatch(r.error.message, /\n/);
    assert.equal(r.out, "");
  }
});

test("no log yet: one note on stderr, nothing on stdout, no error", async () => {
  const saved = process.env.VNAT_LOG_DIR;
  process.env.VNAT_LOG_DIR = join(roots.dir, "empty");
  try {
    const r = await capture(() => log(undefined, {}));
    assert.equal(r.error, undefined);
    assert.equal(r.out, "");
    assert.equal(
      r.err,
      `vnat: log file "${roots.dir}/empty/hook.log": not there yet (the hook writes it at its first vnat event)\n`,
    );
  } finally {
    process.env.VNAT_LOG_DIR = saved;
  }
});

test("--follow: the last 10 (here 1 with -n 1), then lines as they are appended", async () => {
  const child = spawn(process.execPath, ["--import", "tsx", `${REPO}src/cli/main.ts`, "log", "-f", "-n", "1", "web"], {
    cwd: REPO,
    env: { ...process.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const until = async (re: RegExp) => {
    for (let i = 0; i < 200 && !re.test(out); i++) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, re);
  };
  try {
    await until(/hook failed/);
    assert.equal(out.trimEnd().split("\n").length, 1);
    appendFileSync(
      join(roots.log, "hook.log"),
      rec(0, "db", "other network") + "\n" + rec(0, "web", "followed line") + "\n",
    );
    await until(/followed line/);
    assert.doesNotMatch(out, /other network/);
  } finally {
    child.kill("SIGTERM");
  }
});

test("a reader that goes away (vnat log | head -n 1): vnat ends quietly, exit 0", () => {
  const big = join(roots.dir, "big");
  mkdirSync(big);
  writeFileSync(
    join(big, "hook.log"),
    Array.from({ length: 50_000 }, (_, i) => rec(1000, "web", `line ${i}`)).join("\n") + "\n",
  );
  const r = spawnSync(
    "/bin/bash",
    ["-c", '"$0" --import tsx src/cli/main.ts log | head -n 1; echo "status:${PIPESTATUS[0]}"', process.execPath],
    { cwd: REPO, encoding: "utf8", env: { ...process.env, VNAT_LOG_DIR: big } },
  );
  const lines = r.stdout.trimEnd().split("\n");
  assert.equal(lines.length, 2, r.stdout.slice(0, 300));
  assert.match(lines[0]!, /line 0$/);
  assert.equal(lines[1], "status:0");
  assert.equal(r.stderr, "");
});
