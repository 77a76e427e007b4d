// The metrics' pure code: exposition text (escaping of hostile label values, histograms,
// names), the model built from observations, event stats files, /proc/net/dev, and the
// named counters' names. Every rendered text also passes `promtool check metrics`.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { LEGACY_ATTACH } from "../../src/core/input/attach.ts";
import { parseConfig } from "../../src/core/input/config.ts";
import { buildSpec } from "../../src/core/input/spec.ts";
import { evaluate } from "../../src/core/judge/health.ts";
import {
  addEvent,
  addReconcileRun,
  EVENT_BOUNDS,
  emptyEventStats,
  emptyReconcileStats,
  mergeEventStats,
  parseEventStats,
  parseReconcileStats,
} from "../../src/core/metrics/event-stats.ts";
import { escapeLabelValue, renderExposition, type MetricFamily } from "../../src/core/metrics/exposition.ts";
import { buildMetrics, type MetricsInput } from "../../src/core/metrics/model.ts";
import { parseNetDevStats } from "../../src/core/metrics/netdev.ts";
import { parseNetworkXml } from "../../src/core/observe/inventory.ts";
import type { NetObservation } from "../../src/core/observe/observed.ts";
import { inboundCounterName } from "../../src/core/plan/inbound-render.ts";
import { networkXml } from "../support/fixtures.ts";
import { needs } from "../support/needs.ts";

const PROMTOOL = spawnSync("promtool", ["--version"]).status === 0;
const needsPromtool = PROMTOOL ? undefined : "promtool (Debian package prometheus)";

/** promtool's verdict on TEXT: "" when it is clean (lint warnings included). */
export function promtoolProblems(text: string): string {
  const r = spawnSync("promtool", ["check", "metrics"], { input: text, encoding: "utf8" });
  return r.status === 0 && r.stdout.trim() === "" && r.stderr.trim() === "" ? "" : `${r.stdout}${r.stderr}`.trim();
}

const CONFIG = parseConfig(
  "test",
  JSON.stringify({
    providers: [
      { bridge: "br-prov", gateway: "198.51.100.1/24", pool: "198.51.100.10-198.51.100.29", dns: ["198.18.0.10"] },
    ],
  }),
);

const spec = buildSpec(
  parseNetworkXml(
    networkXml({
      name: "net1",
      bridge: "virbr5",
      uplinkBridge: "br-prov",
      uplink: "198.51.100.10/24",
      gateway: "198.51.100.1",
      dhcp: `<vnat:dhcp start="10.0.0.100" end="10.0.0.199"/>`,
      extraMetadata:
        `<vnat:forward proto="tcp" port="8080" to="10.0.0.5" to-port="80"/>` +
        `<vnat:forward proto="udp" port="5000-5002" to="10.0.0.6"/>` +
        `<vnat:floating address="198.51.100.20" to="10.0.0.7"/>`,
    }),
  ),
  CONFIG,
);

function observation(name = "net1"): NetObservation {
  const k = spec.names;
  return {
    name,
    libvirt: { active: true, autostart: true, persistent: true, vnat: true },
    spec,
    netns: { name: k.netns, present: true },
    inside: {
      links: [
        { name: "lo", up: true, operstate: "UNKNOWN", mac: "00:00:00:00:00:00", addresses: ["127.0.0.1/8"] },
        { name: "lan0", up: true, operstate: "UP", mac: "aa:bb:cc:00:00:01", addresses: ["10.0.0.1/24"] },
        {
          name: "wan0",
          up: true,
          operstate: "UP",
          mac: spec.uplink.mac,
          addresses: ["198.51.100.10/24", "198.51.100.20/32"],
        },
      ],
      defaultRoute: { gateway: "198.51.100.1", dev: "wan0" },
      ruleset: "table ip vnat {\n}",
    },
    expectedRuleset: "table ip vnat {\n}",
    lanHost: { name: k.lanHost, present: true, up: true, operstate: "up", master: "virbr5" },
    uplinkHost: { name: k.uplinkHost, present: true, up: true, operstate: "up", master: "br-prov" },
    attach: LEGACY_ATTACH,
    fdb: { lan: null, uplink: null },
    bridges: { lan: true, uplink: true },
    dnsmasq: { pid: 4242, inNamespace: true, argsMatch: true },
    counters: {
      nat_out: { packets: 10, bytes: 1000 },
      nat_in: { packets: 20, bytes: 2000 },
      fwd_tcp_8080: { packets: 3, bytes: 300 },
      fwd_udp_5000_5002: { packets: 4, bytes: 400 },
      fip_198_51_100_20: { packets: 5, bytes: 500 },
    },
    conntrack: 7,
    leases: [{ mac: "52:54:00:00:00:01", ip: "10.0.0.100", hostname: null, expires: null }],
    ports: [],
  };
}

function input(obs: NetObservation[] = [observation()]): MetricsInput {
  return {
    networks: obs.map((o) => ({
      obs: o,
      verdict: evaluate(o),
      uplink: { rxBytes: 11, rxPackets: 1, txBytes: 22, txPackets: 2 },
      conntrackMax: 262144,
    })),
    config: CONFIG,
    hook: addEvent(addEvent(emptyEventStats(), "started-begin", "ok", 0.12), "port-created", "failed", 0.004),
    hookCached: 3,
    reconcile: addReconcileRun(emptyReconcileStats(), 1_700_000_000, [{ kind: "ruleset", result: "ok" }]),
    collectSeconds: 0.05,
  };
}

/** The value of the sample whose line starts with PREFIX (name and labels as rendered). */
function value(text: string, prefix: string): number | undefined {
  const line = text.split("\n").find((l) => l.startsWith(prefix + " "));
  return line === undefined ? undefined : Number(line.slice(prefix.length + 1));
}

describe("exposition text", () => {
  test("label values: backslash, double quote and line feed escaped; nothing else touched", () => {
    assert.equal(escapeLabelValue('a\\b"c\nd'), 'a\\\\b\\"c\\nd');
    assert.equal(escapeLabelValue("tab\there ünïcode {x}=,"), "tab\there ünïcode {x}=,");
  });

  test("a gauge, a counter and a histogram, each family once with HELP and TYPE", () => {
    const fams: MetricFamily[] = [
      { name: "x_up", help: "up\nnext \\ line", type: "gauge", samples: [{ labels: { n: 'q"' }, value: 1 }] },
      { name: "x_events_total", help: "events", type: "counter", samples: [{ labels: {}, value: 2 }] },
      {
        name: "x_seconds",
        help: "durations",
        type: "histogram",
        samples: [{ labels: { k: "a" }, bounds: [0.1, 1], buckets: [1, 2], count: 3, sum: 4.5 }],
      },
      { name: "x_empty", help: "none", type: "gauge", samples: [] },
    ];
    assert.equal(
      renderExposition(fams),
      [
        "# HELP x_up up\\nnext \\\\ line",
        "# TYPE x_up gauge",
        'x_up{n="q\\""} 1',
        "# HELP x_events_total events",
        "# TYPE x_events_total counter",
        "x_events_total 2",
        "# HELP x_seconds durations",
        "# TYPE x_seconds histogram",
        'x_seconds_bucket{k="a",le="0.1"} 1',
        'x_seconds_bucket{k="a",le="1"} 2',
        'x_seconds_bucket{k="a",le="+Inf"} 3',
        'x_seconds_sum{k="a"} 4.5',
        'x_seconds_count{k="a"} 3',
        "",
      ].join("\n"),
    );
  });

  test("bad names and counters without _total are refused (a typo fails here, not at a scrape)", () => {
    const g = (name: string, type: "gauge" | "counter" = "gauge"): MetricFamily[] => [
      { name, help: "h", type, samples: [{ labels: {}, value: 1 }] },
    ];
    assert.throws(() => renderExposition(g("9bad")), /bad metric name/);
    assert.throws(() => renderExposition(g("x_bytes", "counter")), /must end in _total/);
    assert.throws(
      () =>
        renderExposition([{ name: "x", help: "h", type: "gauge", samples: [{ labels: { "a-b": "1" }, value: 1 }] }]),
      /bad label name/,
    );
    assert.throws(() => renderExposition([...g("x"), ...g("x")]), /twice/);
  });
});

describe("the model", () => {
  test("one network: every family with its values", () => {
    const text = renderExposition(buildMetrics(input()));
    const n = 'network="net1"';
    assert.equal(value(text, `vnat_network_up{${n}}`), 1);
    assert.equal(
      value(
        text,
        `vnat_network_info{${n},lan="10.0.0.1/24",uplink="198.51.100.10/24",provider="br-prov",bridge="virbr5"}`,
      ),
      1,
    );
    assert.equal(value(text, `vnat_network_health{${n},health="healthy"}`), 1);
    assert.equal(value(text, `vnat_network_health{${n},health="down"}`), 0);
    assert.equal(value(text, `vnat_uplink_transmit_bytes_total{${n}}`), 22);
    assert.equal(value(text, `vnat_uplink_receive_packets_total{${n}}`), 1);
    assert.equal(value(text, `vnat_nat_transmit_bytes_total{${n}}`), 1000);
    assert.equal(value(text, `vnat_nat_receive_packets_total{${n}}`), 20);
    assert.equal(value(text, `vnat_forward_bytes_total{${n},proto="tcp",port="8080"}`), 300);
    assert.equal(value(text, `vnat_forward_packets_total{${n},proto="udp",port="5000-5002"}`), 4);
    assert.equal(value(text, `vnat_floating_ip_bytes_total{${n},address="198.51.100.20"}`), 500);
    assert.equal(value(text, `vnat_conntrack_entries{${n}}`), 7);
    assert.equal(value(text, `vnat_conntrack_limit{${n}}`), 262144);
    assert.equal(value(text, `vnat_dhcp_leases{${n}}`), 1);
    assert.equal(value(text, `vnat_dhcp_pool_size{${n}}`), 100);
    // uplink .10 and floating .20 are in the pool .10-.29
    assert.equal(value(text, `vnat_provider_pool_used_addresses{provider="br-prov"}`), 2);
    assert.equal(value(text, `vnat_provider_pool_free_addresses{provider="br-prov"}`), 18);
    assert.equal(value(text, "vnat_reconcile_last_run_timestamp_seconds"), 1_700_000_000);
    assert.equal(value(text, `vnat_reconcile_repairs_total{kind="ruleset",result="ok"}`), 1);
    assert.equal(value(text, `vnat_hook_events_total{event="started-begin",result="ok"}`), 1);
    assert.equal(value(text, `vnat_hook_events_total{event="start-begin",result="cached"}`), 3);
    assert.equal(value(text, `vnat_hook_event_duration_seconds_bucket{event="started-begin",result="ok",le="0.1"}`), 0);
    assert.equal(
      value(text, `vnat_hook_event_duration_seconds_bucket{event="started-begin",result="ok",le="0.25"}`),
      1,
    );
    assert.equal(value(text, `vnat_hook_event_duration_seconds_count{event="port-created",result="failed"}`), 1);
  });

  test("a drifted network: health and its reasons", () => {
    const o = observation();
    o.dnsmasq = { pid: null, inNamespace: false, argsMatch: false };
    o.conntrack = null;
    const text = renderExposition(buildMetrics(input([o])));
    assert.equal(value(text, 'vnat_network_health{network="net1",health="degraded"}'), 1);
    assert.equal(value(text, 'vnat_network_health_reason{network="net1",reason="dnsmasq-down"}'), 1);
    assert.equal(value(text, 'vnat_conntrack_entries{network="net1"}'), undefined);
  });

  needs(needsPromtool).test("hostile network names are escaped, and promtool accepts the text", {}, () => {
    const hostile = ['we"ird', "back\\slash", "line\nfeed", "sp ace{}=,#", "ünï"];
    const text = renderExposition(buildMetrics(input(hostile.map((h) => observation(h)))));
    assert.ok(text.includes('vnat_network_up{network="we\\"ird"} 1'));
    assert.ok(text.includes('vnat_network_up{network="back\\\\slash"} 1'));
    assert.ok(text.includes('vnat_network_up{network="line\\nfeed"} 1'));
    for (const l of text.split("\n")) assert.ok(!l.startsWith("feed"), "a raw line feed split a sample");
    assert.equal(promtoolProblems(text), "");
  });

  needs(needsPromtool).test("no networks, no stats: promtool accepts the text", {}, () => {
    const text = renderExposition(
      buildMetrics({
        networks: [],
        config: { providers: [] },
        hook: emptyEventStats(),
        hookCached: 0,
        reconcile: emptyReconcileStats(),
        collectSeconds: 0.01,
      }),
    );
    assert.ok(text.includes("vnat_reconcile_last_run_timestamp_seconds 0"));
    assert.equal(promtoolProblems(text), "");
  });
});

describe("event stats", () => {
  test("an event lands in every bucket at or above its duration; sums add", () => {
    const s = addEvent(addEvent(emptyEventStats(), "stopped-end", "ok", 0.02), "stopped-end", "ok", 3);
    const st = s.events["stopped-end"]!.ok!;
    assert.equal(st.count, 2);
    assert.equal(st.sum, 3.02);
    assert.deepEqual(
      st.buckets,
      EVENT_BOUNDS.map((b) => (b >= 5 ? 2 : b >= 0.025 ? 1 : 0)),
    );
  });

  test("files are read as untrusted: what is not a count is dropped, prototypes stay untouched", () => {
    const good = addEvent(emptyEventStats(), "port-created", "ok", 0.001);
    assert.deepEqual(parseEventStats(JSON.stringify(good)), good);
    for (const bad of [undefined, "", "{", "[]", '{"events":{"x":{"ok":{"count":-1,"sum":0,"buckets":[]}}}}'])
      assert.deepEqual(parseEventStats(bad), emptyEventStats());
    const polluted = parseEventStats(
      `{"events":{"__proto__":{"ok":${JSON.stringify(good.events["port-created"]!.ok)}},"constructor":{"ok":${JSON.stringify(good.events["port-created"]!.ok)}}}}`,
    );
    assert.equal(Object.keys(polluted.events).join(), "constructor");
    assert.equal(({} as Record<string, unknown>).ok, undefined);
    assert.deepEqual(parseReconcileStats('{"lastRun":"x","runs":2,"repairs":{"dnsmasq":{"ok":1,"bad":"x"}}}'), {
      version: 1,
      lastRun: 0,
      runs: 2,
      repairs: { dnsmasq: { ok: 1 } },
    });
  });

  test("networks' stats are summed", () => {
    const a = addEvent(emptyEventStats(), "started-begin", "ok", 0.1);
    const b = addEvent(addEvent(emptyEventStats(), "started-begin", "ok", 0.2), "stopped-end", "ok", 0.05);
    const m = mergeEventStats([a, b]);
    assert.equal(m.events["started-begin"]!.ok!.count, 2);
    assert.equal(m.events["stopped-end"]!.ok!.count, 1);
    assert.ok(Math.abs(m.events["started-begin"]!.ok!.sum - 0.3) < 1e-9);
  });
});

test("/proc/net/dev: one interface's totals", () => {
  const text = `Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo:       0       0    0    0    0     0          0         0        0       0    0    0    0     0       0          0
  wan0:  123456     789    0    0    0     0          0         0   654321     987    0    0    0     0       0          0
`;
  assert.deepEqual(parseNetDevStats(text, "wan0"), {
    rxBytes: 123456,
    rxPackets: 789,
    txBytes: 654321,
    txPackets: 987,
  });
  assert.equal(parseNetDevStats(text, "lan0"), undefined);
});

test("named counters: short names from the rule's numbers only", () => {
  assert.equal(inboundCounterName({ kind: "forward", proto: "tcp", port: 8080, portEnd: 8080 }), "fwd_tcp_8080");
  assert.equal(inboundCounterName({ kind: "forward", proto: "udp", port: 5000, portEnd: 5002 }), "fwd_udp_5000_5002");
  assert.equal(inboundCounterName({ kind: "floating", address: "198.51.100.20" }), "fip_198_51_100_20");
  assert.equal(inboundCounterName({ kind: "floating", address: "2001:DB8:100::20" }), "fip_2001_db8_100__20");
});
