// docs/metrics.md lists every metric vnat renders (src/core/metrics/model.ts), and the Grafana
// dashboard (contrib/grafana/vnat.json) asks only for metrics vnat renders, in PromQL that
// `promtool check rules` accepts; the systemd units and the cron line run the installed vnat.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { emptyEventStats, emptyReconcileStats } from "../../src/core/metrics/event-stats.ts";
import { buildMetrics } from "../../src/core/metrics/model.ts";
import { needs } from "../support/needs.ts";

const read = (p: string): string => readFileSync(new URL(`../../${p}`, import.meta.url), "utf8");
const PROMTOOL = spawnSync("promtool", ["--version"]).status === 0 ? undefined : "promtool (Debian package prometheus)";

const families = buildMetrics({
  networks: [],
  config: { providers: [] },
  hook: emptyEventStats(),
  hookCached: 0,
  reconcile: emptyReconcileStats(),
  collectSeconds: 0,
});
const names = new Set(families.map((f) => f.name));

interface Panel {
  type: string;
  title: string;
  targets?: Array<{ expr: string }>;
}
const dashboard = JSON.parse(read("contrib/grafana/vnat.json")) as { panels: Panel[]; uid: string };
const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));

test("docs/metrics.md has a row for every metric, with its type", () => {
  const doc = read("docs/metrics.md");
  assert.ok(names.size >= 25);
  for (const f of families) assert.match(doc, new RegExp(`^\\| \`${f.name}\` \\| ${f.type} \\|`, "m"), f.name);
  const documented = [...doc.matchAll(/^\| `(vnat_[a-z_]+)` \|/gm)].map((m) => m[1]!);
  assert.deepEqual(
    documented.filter((n) => !names.has(n)),
    [],
    "documented but not rendered",
  );
});

test("the dashboard asks only for metrics vnat renders, and uses most of them", () => {
  assert.ok(exprs.length >= 15);
  const used = new Set(
    exprs.flatMap((e) => [...e.matchAll(/\bvnat_[a-z_]+/g)].map((m) => m[0].replace(/_(bucket|sum|count)$/, ""))),
  );
  assert.deepEqual(
    [...used].filter((n) => !names.has(n)),
    [],
  );
  // the packet twins of byte counters (and the reverse for NAT) and the run count: same story, one panel each
  const twins = [
    "vnat_uplink_transmit_packets_total",
    "vnat_uplink_receive_packets_total",
    "vnat_nat_transmit_bytes_total",
    "vnat_nat_receive_bytes_total",
    "vnat_forward_packets_total",
    "vnat_floating_ip_packets_total",
    "vnat_reconcile_runs_total",
  ];
  assert.deepEqual(
    [...names].filter((n) => !used.has(n) && !twins.includes(n)),
    [],
    "metrics no panel shows",
  );
});

needs(PROMTOOL).test("every dashboard query is PromQL promtool accepts (as recording rules)", {}, () => {
  const dir = mkdtempSync(join(tmpdir(), "vnat-dash-"));
  try {
    const rules = exprs.map(
      (e, i) =>
        `      - record: vnat:dashboard:${i}\n        expr: ${JSON.stringify(
          e.replace(/\$__rate_interval/g, "5m").replace(/\$(instance|network)/g, ".*"),
        )}`,
    );
    const file = join(dir, "rules.yml");
    writeFileSync(file, `groups:\n  - name: dashboard\n    rules:\n${rules.join("\n")}\n`);
    const r = spawnSync("promtool", ["check", "rules", file], { encoding: "utf8" });
    assert.equal(r.status, 0, `${r.stdout}${r.stderr}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("contrib: the units and the cron line run the installed vnat; the exporter listens on loopback", () => {
  assert.match(
    read("contrib/systemd/vnat-exporter.service"),
    /^ExecStart=\/usr\/local\/bin\/vnat exporter --listen 127\.0\.0\.1:9745$/m,
  );
  assert.match(
    read("contrib/systemd/vnat-metrics.service"),
    /^ExecStart=\/usr\/local\/bin\/vnat metrics --textfile \S+$/m,
  );
  assert.match(read("contrib/systemd/vnat-metrics.timer"), /^OnUnitActiveSec=\d+s$/m);
  const cron = read("contrib/cron/vnat-metrics")
    .split("\n")
    .filter((l) => l.trim() && !l.startsWith("#"));
  assert.equal(cron.length, 1);
  assert.match(cron[0]!, /^\* \* \* \* \* root nice -n 10 \/usr\/local\/bin\/vnat metrics --textfile \S+ /);
});
