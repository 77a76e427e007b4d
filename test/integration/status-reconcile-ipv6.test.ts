// IPv6 in `vnat status` and `vnat reconcile` (issue 17) on real namespaces: a dual-stack
// network started by hooks/network is healthy (its `table ip6 vnat` matches the reference),
// status (--json within the documented schema, the table, the detail) shows its IPv6 side,
// drift of the ip6 table and lost IPv6 addresses are named and repaired, and the guest
// reaches the internet over IPv6 again afterwards.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { after, before } from "node:test";
import { loadConfig } from "../../src/adapters/store/config-file.ts";
import { roots } from "../../src/adapters/store/roots.ts";
import type { Config } from "../../src/core/input/config.ts";
import { evaluate, type Verdict } from "../../src/core/judge/health.ts";
import { kernelNames } from "../../src/core/names.ts";
import { statusDoc } from "../../src/core/observe/status-doc.ts";
import { formatDetail, formatSummary } from "../../src/cli/status/format.ts";
import { probeAll } from "../../src/exec/probe/observe.ts";
import { reconcile } from "../../src/exec/reconcile.ts";
import { processRunner } from "../../src/exec/run.ts";
import { hookData, networkXml, type NetOpts } from "../support/fixtures.ts";
import { runHook, vnatDebris } from "../support/hook.ts";
import { validate } from "../support/json-schema.ts";
import { run, waitFor } from "../support/sh.ts";
import { assertNoWorldDebris, createWorld, worldUnavailable, type Guest, type World } from "../support/world.ts";
import { needs } from "../support/needs.ts";

const SCHEMA = JSON.parse(
  readFileSync(fileURLToPath(new URL("../../docs/status.schema.json", import.meta.url)), "utf8"),
);
const R = roots({});
const tag = randomBytes(2).toString("hex");
const unmet = worldUnavailable();
const UPLINK6 = "2001:db8:100::31";

let world: World;
let config: Config;
let net: NetOpts;
let guest: Guest;

const libvirtView = () => [{ name: net.name, active: true, autostart: false, persistent: true, xml: networkXml(net) }];
const observe = () => probeAll({ runner: processRunner, roots: R, config, networks: libvirtView(), only: [net.name] });

async function verdict(): Promise<Verdict> {
  const o = (await observe()).observations.find((x) => x.name === net.name);
  assert.ok(o, `no observation of ${net.name}`);
  return evaluate(o);
}

async function fetch6(): Promise<string> {
  return (await guest.fetch(`http://[${world.internetIp6}]/`)).trim();
}

before(async () => {
  if (unmet) return;
  world = await createWorld();
  config = await loadConfig(R.config); // with the world's provider (and its gateway6) in it
  net = {
    name: `s${tag}v6`,
    bridge: await world.addLanBridge(),
    uplinkBridge: world.providerBridge,
    uplink: "198.51.100.31/24",
    gateway: world.providerGateway,
    dns: [world.upstreamDns],
    extraMetadata: `<vnat:lan6 address="fd00:5::1/64"/><vnat:uplink6 address="${UPLINK6}/64"/>`,
  };
  const r = await runHook(net.name, "started", "begin", hookData(net));
  assert.equal(r.exitCode, 0, r.stderr);
  guest = await world.addGuest(net.bridge);
  await guest.addStaticAddress6("fd00:5::50/64", "fd00:5::1");
});

after(async () => {
  if (unmet) return;
  await runHook(net.name, "stopped", "end", hookData(net));
  await world?.destroy();
  assert.deepEqual(vnatDebris(net.name), []);
  if (world) await assertNoWorldDebris(world.tag);
});

needs(unmet).test("a dual-stack network is healthy; its JSON keeps to the schema", {}, async () => {
  assert.equal(await fetch6(), UPLINK6);
  assert.deepEqual(await verdict(), { health: "healthy", reasons: [] });
  const { observations } = await observe();
  const doc = statusDoc(observations, [], [], new Date());
  assert.deepEqual(validate(SCHEMA, JSON.parse(JSON.stringify(doc))), []);
  const { nat, ...six } = doc.networks[0]!.ipv6!;
  assert.deepEqual(six, {
    lan: { gateway: "fd00:5::1/64", dhcp6: false, present: true },
    uplink: { address: `${UPLINK6}/64`, gateway: world.providerGateway6, mode: "nat66", prefix: null, present: true },
    upstreamRoute: null,
  });
  assert.ok(nat.out && nat.out.packets > 0 && nat.in && nat.in.packets > 0, `ip6 NAT counters: ${JSON.stringify(nat)}`);
  const table = formatSummary(doc, false);
  assert.match(table.split("\n")[0]!, /\sUPLINK6$/);
  assert.match(table.split("\n")[1]!, new RegExp(`\\s${UPLINK6}/64 nat66$`));
  const detail = formatDetail(doc.networks[0]!, false);
  assert.match(detail, /^lan6\s+gateway fd00:5::1\/64 \(on lan0\), RA$/m);
  assert.match(
    detail,
    new RegExp(`^uplink6\\s+${UPLINK6}/64 via ${world.providerGateway6}, nat66 \\(on wan0\\)$`, "m"),
  );
});

needs(unmet).test(
  "a lost lan6 gateway and uplink6 are named and added back by reconcile; IPv6 works again",
  {},
  async () => {
    const ns = kernelNames(net.name).netns;
    await run("ip", ["-n", ns, "-6", "addr", "del", "fd00:5::1/64", "dev", "lan0"]);
    await run("ip", ["-n", ns, "-6", "addr", "del", `${UPLINK6}/64`, "dev", "wan0"]);
    const v = await verdict();
    assert.equal(v.health, "degraded");
    assert.deepEqual(
      v.reasons.filter((r) => r.code === "address-wrong").map((r) => r.message),
      ["wrong address: lan0 lacks fd00:5::1/64", `wrong address: wan0 lacks ${UPLINK6}/64`],
    );
    const { observations } = await observe();
    const doc = statusDoc(observations, [], [], new Date());
    assert.deepEqual([doc.networks[0]!.ipv6?.lan.present, doc.networks[0]!.ipv6?.uplink.present], [false, false]);
    const lines: string[] = [];
    const report = await reconcile({
      runner: processRunner,
      roots: R,
      config,
      networks: libvirtView(),
      only: [net.name],
      dryRun: false,
      progress: (l) => lines.push(l),
    });
    for (const o of report.outcomes) assert.deepEqual([o.failed, o.remaining], [[], []], lines.join(" | "));
    assert.ok(
      lines.some((l) => l.includes("lan0: add fd00:5::1/64")),
      lines.join(" | "),
    );
    assert.deepEqual(await verdict(), { health: "healthy", reasons: [] });
    // the route through the restored gateway (the guest's neighbour entry may take a moment)
    await waitFor(
      async () => (await fetch6().catch(() => "")) === UPLINK6,
      10_000,
      "IPv6 through the restored gateway",
    );
  },
);

needs(unmet).test("a changed ip6 table is named and replaced by reconcile; IPv6 works again", {}, async () => {
  const ns = kernelNames(net.name).netns;
  await run("ip", ["netns", "exec", ns, "nft", "flush", "table", "ip6", "vnat"]);
  const v = await verdict();
  assert.equal(v.health, "degraded");
  assert.ok(
    v.reasons.some((r) => r.code === "ruleset-changed"),
    JSON.stringify(v.reasons),
  );
  const lines: string[] = [];
  const report = await reconcile({
    runner: processRunner,
    roots: R,
    config,
    networks: libvirtView(),
    only: [net.name],
    dryRun: false,
    progress: (l) => lines.push(l),
  });
  for (const o of report.outcomes) assert.deepEqual([o.failed, o.remaining], [[], []], lines.join(" | "));
  assert.ok(
    lines.some((l) => /ruleset/.test(l)),
    lines.join(" | "),
  );
  assert.deepEqual(await verdict(), { health: "healthy", reasons: [] });
  assert.equal(await fetch6(), UPLINK6);
});

needs(unmet).test("a lost IPv6 default route is named and replaced by reconcile", {}, async () => {
  const ns = kernelNames(net.name).netns;
  await run("ip", ["-n", ns, "-6", "route", "del", "default"]);
  const v = await verdict();
  assert.deepEqual(
    v.reasons.map((r) => [r.code, r.message]),
    [["route-wrong", `wrong IPv6 default route: none, expected via ${world.providerGateway6} dev wan0`]],
  );
  const lines: string[] = [];
  const report = await reconcile({
    runner: processRunner,
    roots: R,
    config,
    networks: libvirtView(),
    only: [net.name],
    dryRun: false,
    progress: (l) => lines.push(l),
  });
  for (const o of report.outcomes) assert.deepEqual([o.failed, o.remaining], [[], []], lines.join(" | "));
  assert.deepEqual(await verdict(), { health: "healthy", reasons: [] });
  assert.match((await run("ip", ["-n", ns, "-6", "route", "show", "default"])).stdout, /via 2001:db8:100::1 dev wan0/);
  await waitFor(async () => (await fetch6().catch(() => "")) === UPLINK6, 10_000, "IPv6 through the restored route");
});
