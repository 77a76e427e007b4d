// src/cli/reconcile/run.ts: the summary (lines, how many networks still have problems, and
// whether a repair failed: exit 4 rather than 1), the --json document, and the refusal as
// non-root (77) before the lock or libvirt.
import assert from "node:assert/strict";
import { test } from "node:test";
import { reconcileCommand, reportJson, summarize } from "../../src/cli/reconcile/run.ts";
import type { ReconcileReport } from "../../src/exec/reconcile.ts";
import type { Reason } from "../../src/core/judge/health.ts";
import { VnatError } from "../../src/core/errors.ts";

const reason = (message: string) => ({ code: "netns-missing", message }) as unknown as Reason;

const healthy: ReconcileReport = {
  checked: 3,
  outcomes: [
    { name: "web", planned: ["create namespace"], failed: [], remaining: [] },
    { name: "db", planned: [], failed: [], remaining: [] },
    { name: "old", planned: [], failed: [], remaining: [], skipped: "changed meanwhile" },
  ],
  strayLinks: [],
  strayFdb: [],
  strayFailed: [],
};

test("all repaired: the count of repaired networks (planned, none failed), skips named, no failure", () => {
  const s = summarize(healthy, false, 1234);
  assert.deepEqual(s, {
    lines: [
      "old: skipped (changed meanwhile)",
      "reconcile: 3 network(s) checked, 1 repaired, 0 with problems left (1.23 s)",
    ],
    failed: 0,
    repairFailed: false,
  });
  assert.equal(
    summarize(healthy, true, 0).lines.at(-1),
    "reconcile: 3 network(s) checked, 1 would repair, 0 with problems left (0.00 s)",
  );
});

test("a failed repair and a problem left: each named; repairFailed only for the failed repair", () => {
  const r: ReconcileReport = {
    checked: 2,
    outcomes: [
      {
        name: "web",
        planned: ["re-add NAT"],
        failed: ["re-add NAT: iptables-restore failed"],
        remaining: [reason("NAT missing")],
      },
      { name: "db", planned: [], failed: [], remaining: [reason("uplink gone")] },
    ],
    strayLinks: ["vnu-1", "vnu-2"],
    strayFdb: [{ bridge: "br0", mac: "52:54:00:00:00:01" }],
    strayFailed: [],
  };
  const s = summarize(r, false, 500);
  assert.deepEqual(s.lines, [
    "web: failed: re-add NAT: iptables-restore failed",
    "web: still: NAT missing",
    "db: still: uplink gone",
    "reconcile: 2 network(s) checked, 0 repaired, 2 with problems left, 2 stray interface(s), 1 stray fdb entry (0.50 s)",
  ]);
  assert.equal(s.failed, 2);
  assert.equal(s.repairFailed, true);
  const dry = summarize({ ...r, outcomes: [r.outcomes[1]!] }, true, 0);
  assert.equal(dry.lines[0], "db: cannot repair: uplink gone");
  assert.equal(dry.repairFailed, false, "problems left but nothing failed: needs attention (1), not apply-failed (4)");
  const fdb2 = summarize({ ...r, strayFdb: [...r.strayFdb, { bridge: "br0", mac: "52:54:00:00:00:02" }] }, false, 0);
  assert.match(fdb2.lines.at(-1)!, /2 stray fdb entries/);
});

test("stray interfaces that could not be removed count as one failure, and a failed repair", () => {
  const s = summarize({ ...healthy, strayFailed: ["vnu-9: Device or resource busy"] }, false, 0);
  assert.equal(s.lines.at(-2), "stray interfaces: vnu-9: Device or resource busy");
  assert.equal(s.failed, 1);
  assert.equal(s.repairFailed, true);
});

test("--json: per network repairs, failures and what is left; skipped and dryRun only when so", () => {
  const doc = reportJson(healthy, false);
  assert.deepEqual(doc, {
    checked: 3,
    networks: [
      { network: "web", repairs: ["create namespace"], failed: [], remaining: [] },
      { network: "db", repairs: [], failed: [], remaining: [] },
      { network: "old", repairs: [], failed: [], remaining: [], skipped: "changed meanwhile" },
    ],
    strayLinks: [],
    strayFdb: [],
    strayFailed: [],
  });
  assert.equal(reportJson(healthy, true).dryRun, true);
});

test("not root: refused (needs-root) before anything is read", async () => {
  const real = process.getuid;
  process.getuid = () => 1000;
  try {
    await assert.rejects(
      reconcileCommand([], { dryRun: true }),
      (e: unknown) =>
        e instanceof VnatError && e.kind === "needs-root" && e.message.startsWith("reconcile: needs root"),
    );
  } finally {
    process.getuid = real;
  }
});
