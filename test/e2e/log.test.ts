// `vnat log` on what the real hook writes: events driven as libvirt drives the hook, on the
// real kernel, with the hook's log in a scratch directory (VNAT_LOG_DIR). The lines name the
// network, event and outcome in local time; a network's own lines only when it is named;
// hostile names printed safely; `-f` prints lines written after it started, through a real
// logrotate run of vnat's own rules (copytruncate), until it is killed.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync, statSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before } from "node:test";
import { execa } from "execa";
import { hookData, type NetOpts } from "../support/fixtures.ts";
import { runHook, sandboxNet } from "../support/hook.ts";
import { REPO } from "../support/libvirt.ts";
import { needs } from "../support/needs.ts";
import { sh, waitFor } from "../support/sh.ts";
import { assertNoWorldDebris, createWorld, worldUnavailable, type World } from "../support/world.ts";

const unmet = worldUnavailable();
const tag = randomBytes(2).toString("hex");
const CLI = join(REPO, "dist/cli.js");
let world: World;
let net: NetOpts;
let other: NetOpts;
let logDir: string;

const hook = (o: NetOpts, op: string, subop: string) =>
  runHook(o.name, op, subop, hookData(o), { VNAT_LOG_DIR: logDir });
const vnatLog = (...args: string[]) =>
  sh(process.execPath, [CLI, "log", ...args], { env: { VNAT_LOG_DIR: logDir }, timeoutMs: 30_000 });

/** The local time of epoch ms T as `vnat log` should print it, computed here independently. */
function local(t: number): string {
  const d = new Date(t);
  const p = (n: number): string => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
const lineRe = (name: string, event: string, outcome: string, message: string): RegExp =>
  new RegExp(`^\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d  ${name} +${event} +${outcome} +${message}$`, "m");

before(async () => {
  if (unmet) return;
  world = await createWorld();
  logDir = await mkdtemp(join(tmpdir(), `vnat-log-${tag}-`));
  net = await sandboxNet(world, `l${tag}a`, "198.51.100.41/24");
  other = await sandboxNet(world, `l${tag}b`, "198.51.100.42/24", { lan: "not-an-address" });
});

after(async () => {
  if (unmet) return;
  await hook(net, "stopped", "end");
  await world?.destroy();
  await rm(logDir, { recursive: true, force: true });
  if (world) await assertNoWorldDebris(world.tag);
});

needs(unmet).test(
  "vnat log [NET]: the hook's events as readable lines, a network's own when named, hostile names made safe",
  { timeout: 120_000 },
  async () => {
    assert.equal(
      (await vnatLog()).stderr,
      `vnat: log file "${logDir}/hook.log": not there yet (the hook writes it at its first vnat event)\n`,
    );
    for (const [op, subop] of [
      ["start", "begin"],
      ["started", "begin"],
    ]) {
      const r = await hook(net, op!, subop!);
      assert.equal(r.exitCode, 0, r.stderr);
    }
    const bad = await hook(other, "start", "begin");
    assert.notEqual(bad.exitCode, 0, "the other network's start is refused");
    // libvirt never passes such a name; the log keeps what it was given, vnat log shows it safely
    const hostile = { ...net, name: `ev\u001b[31mil\u202e${tag}` };
    assert.notEqual(
      (await runHook(hostile.name, "start", "begin", hookData(hostile), { VNAT_LOG_DIR: logDir })).exitCode,
      0,
    );

    const mine = await vnatLog(net.name);
    assert.equal(mine.exitCode, 0, mine.stderr);
    assert.equal(mine.stderr, "");
    const lines = mine.stdout.trimEnd().split("\n");
    assert.equal(lines.length, 2, mine.stdout);
    assert.match(lines[0]!, lineRe(net.name, "start", "ok", "validated"));
    assert.match(lines[1]!, lineRe(net.name, "started", "ok", "namespace started: \\d+ ms"));

    // the time shown is the record's, in this machine's local time
    const json = await vnatLog(net.name, "--json");
    const records = json.stdout
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as { time: number; network: string });
    assert.deepEqual(
      records.map((r) => r.network),
      [net.name, net.name],
    );
    assert.deepEqual(
      lines.map((l) => l.slice(0, 19)),
      records.map((r) => local(r.time)),
    );
    const raw = readFileSync(join(logDir, "hook.log"), "utf8");
    assert.ok(
      json.stdout.split("\n").every((l) => l === "" || raw.includes(l)),
      "--json prints the lines as written",
    );

    const theirs = await vnatLog(other.name);
    assert.match(theirs.stdout, lineRe(other.name, "start", "failed", `hook failed: network "${other.name}": .+`));
    assert.doesNotMatch(theirs.stdout, new RegExp(net.name));

    const all = await vnatLog();
    assert.equal(all.exitCode, 0, all.stderr);
    assert.equal(all.stdout.trimEnd().split("\n").length, 4, all.stdout);
    assert.doesNotMatch(
      all.stdout,
      /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]/,
      "no control characters reach the terminal",
    );
    assert.match(all.stdout, lineRe(`ev\\?\\[31mil\\?${tag}`, "start", "failed", "hook failed: .+"));
    assert.equal((await vnatLog("-n", "1")).stdout, all.stdout.trimEnd().split("\n").slice(-1)[0] + "\n");
    assert.equal((await vnatLog("--since", "1h")).stdout, all.stdout);
    assert.equal((await vnatLog("--since", "2000-01-01")).stdout, all.stdout);

    // a line that is not JSON (another program's, a torn write): shown as it is, made safe
    await writeFile(join(logDir, "hook.log"), raw + "not json \u001b[2J\n");
    const withText = await vnatLog();
    assert.equal(withText.stdout, all.stdout + "not json ?[2J\n");
    assert.equal((await vnatLog(net.name)).stdout, mine.stdout, "a network's lines leave text out");

    const badName = await vnatLog("bad name!");
    assert.notEqual(badName.exitCode, 0);
    assert.match(badName.stderr, /^vnat: network name "bad name!": only letters, digits/);
    const badSince = await vnatLog("--since", "yesterday");
    assert.notEqual(badSince.exitCode, 0);
    assert.match(
      badSince.stderr,
      /^vnat: --since "yesterday": expected a duration \(30s, 10m, 2h, 7d\) or a local time/,
    );
  },
);

needs(unmet).test(
  "vnat log NET -f: lines written after it started, through logrotate's copytruncate, until it is killed",
  { timeout: 120_000 },
  async () => {
    const child = execa(process.execPath, [CLI, "log", net.name, "-f"], {
      env: { VNAT_LOG_DIR: logDir },
      reject: false,
      stdin: "ignore",
    });
    let out = "";
    child.stdout!.on("data", (b: Buffer) => (out += b.toString("utf8")));
    try {
      // the last lines first (here: the network's two from the test before)
      await waitFor(
        () => lineRe(net.name, "started", "ok", "namespace started: \\d+ ms").test(out),
        10_000,
        "the last lines",
      );
      const shownBefore = out;
      assert.equal(shownBefore.trimEnd().split("\n").length, 2, shownBefore);

      assert.equal((await hook(net, "stopped", "end")).exitCode, 0);
      await waitFor(() => lineRe(net.name, "stopped", "ok", "namespace removed").test(out), 10_000, "the stop's line");

      // vnat's own rules, pointed at the scratch log: the file is copied and truncated
      const rules = readFileSync(join(REPO, "packaging/logrotate/vnat"), "utf8").replace(
        "/var/log/vnat/*.log",
        `${logDir}/*.log`,
      );
      assert.notEqual(rules, readFileSync(join(REPO, "packaging/logrotate/vnat"), "utf8"));
      await writeFile(join(logDir, "rules"), rules, { mode: 0o644 });
      const before = statSync(join(logDir, "hook.log")).size;
      const lr = await sh("logrotate", ["-f", "-s", join(logDir, "state"), join(logDir, "rules")]);
      assert.equal(lr.exitCode, 0, lr.stderr);
      assert.equal(statSync(join(logDir, "hook.log")).size, 0, "truncated in place");
      assert.ok(statSync(join(logDir, "hook.log.1")).size >= before, "the old lines are kept in hook.log.1");

      const seen = out.length;
      for (const [op, subop] of [
        ["start", "begin"],
        ["started", "begin"],
      ])
        assert.equal((await hook(net, op!, subop!)).exitCode, 0);
      await waitFor(
        () => lineRe(net.name, "started", "ok", "namespace started: \\d+ ms").test(out.slice(seen)),
        10_000,
        "the lines written after the rotation",
      );
      // exactly the network's lines of the new file: none lost, none read twice (a second start
      // may be answered by the shell hook's cache, which writes no line)
      const fresh = await vnatLog(net.name);
      assert.equal(out.slice(seen), fresh.stdout);
      assert.equal(child.exitCode, null, "still following");
    } finally {
      process.kill(child.pid!, "SIGTERM");
    }
    const r = await child;
    assert.equal(r.signal, "SIGTERM", "ended by the signal, and only by it");
  },
);
