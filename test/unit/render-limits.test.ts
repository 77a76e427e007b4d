// Issue 13.5: the caps on a network's inbound lists, at the cap and one over it. At the cap
// the spec is accepted and its ruleset is loaded by nft into a throwaway namespace (a
// `unshare --net`, nothing of the host's); one over is refused at `start begin` with one
// line naming the network, the count and the cap, before any command runs. Forwards and
// floating IPs render as map elements, so the rule count does not grow with them.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { describe, test } from "node:test";
import { needs } from "../support/needs.ts";
import { pino } from "pino";
import { EMPTY_CONFIG } from "../../src/core/input/config.ts";
import { oneLine, VnatError } from "../../src/core/errors.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { FWD_PORT_MAP, FWD_RANGE_MAP } from "../../src/core/plan/inbound-render.ts";
import type { Roots } from "../../src/core/paths.ts";
import { DHCP_SOURCES_SET, DNS_SOURCES_SET, GUEST_LIMITS, renderNft } from "../../src/core/plan/render.ts";
import { normalizeRuleset } from "../../src/core/judge/ruleset.ts";
import { buildSpec, MAX_FLOATING, MAX_FORWARDS, MAX_REMAPPED_PORTS, type NetSpec } from "../../src/core/input/spec.ts";
import { MAX_XML_BYTES } from "../../src/core/input/xml.ts";
import type { Runner } from "../../src/exec/run.ts";
import { parseArgv } from "../../src/hook/event.ts";
import { handle, type HookEnv } from "../../src/hook/handlers.ts";
import { hookData } from "../support/fixtures.ts";

const NAME = "capnet";

/** A hook document whose metadata (prefix `v`, no whitespace: the most a 256 KiB document holds) lists BODY. */
function doc(body: string, uplink = "198.51.100.11/24", lan = "10.0.0.1/24"): string {
  const metadata =
    `<v:network xmlns:v="urn:vnat:network:1"><v:lan address="${lan}"/>` +
    `<v:uplink bridge="br-prov" address="${uplink}" gateway="198.51.100.1"/><v:dns upstream="198.18.0.10"/>${body}</v:network>`;
  return hookData({ name: NAME, bridge: "virbr5", metadata });
}

const spec = (stdin: string): NetSpec => buildSpec(parseHookData(stdin).network, EMPTY_CONFIG);

/** N single-port forwards, tcp 1.. then udp 1.. (short attributes: the document must stay under 256 KiB). */
function singles(n: number): string {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const proto = i % 2 === 0 ? "tcp" : "udp";
    out.push(`<v:forward proto="${proto}" port="${Math.floor(i / 2) + 1}" to="10.0.0.5"/>`);
  }
  return out.join("");
}

/** Ranges mapped to other ports, SIZE ports each, tcp from 50000 (above singles' ports). */
function remapped(count: number, size: number, first = 50000): string {
  const out: string[] = [];
  for (let i = 0; i < count; i++) {
    const a = first + i * size;
    out.push(`<v:forward proto="tcp" port="${a}-${a + size - 1}" to="10.0.0.6" to-port="${1000 + i * size}"/>`);
  }
  return out.join("");
}

const roots: Roots = {
  run: "/nonexistent/vnat-unit/run",
  config: "/nonexistent/vnat-unit/config.json",
  log: "/nonexistent/vnat-unit/log",
};

/** `start begin` through the hook's handler with a runner that records every command. */
async function startBegin(stdin: string): Promise<{ error: unknown; commands: string[] }> {
  const commands: string[] = [];
  const runner: Runner = {
    run: async (cmd, args) => {
      commands.push([cmd, ...args].join(" "));
      return { exitCode: 1, stdout: "", stderr: "unit test: no commands" };
    },
  };
  const env: HookEnv = { runner, roots, log: pino({ enabled: false }) };
  try {
    await handle(parseArgv([NAME, "start", "begin", "-"]), parseHookData(stdin), env);
  } catch (e) {
    return { error: e, commands };
  }
  return { error: undefined, commands };
}

async function assertRefused(stdin: string, message: string): Promise<void> {
  assert.ok(Buffer.byteLength(stdin) <= MAX_XML_BYTES, `the document is ${Buffer.byteLength(stdin)} bytes`);
  assert.throws(
    () => spec(stdin),
    (e: unknown) => e instanceof VnatError && e.kind === "invalid-input" && oneLine(e) === message,
  );
  const r = await startBegin(stdin);
  assert.ok(r.error instanceof VnatError, `start begin: ${String(r.error)}`);
  assert.equal(oneLine(r.error), message);
  assert.deepEqual(r.commands, [], "a command ran");
}

const asRoot = process.getuid?.() === 0 && spawnSync("nft", ["--version"]).status === 0;
const needsNft = asRoot ? false : "needs root and nft (a throwaway network namespace)";

/** Loads RULESET with nft in a new network namespace (then runs THEN there) and returns its listing (normalized). */
function loadInThrowawayNamespace(ruleset: string, then = ""): string {
  const r = spawnSync("unshare", ["--net", "sh", "-c", `nft -f - && ${then} nft list ruleset`], {
    input: ruleset,
    encoding: "utf8",
    maxBuffer: 64 << 20,
    timeout: 60_000,
  });
  assert.equal(r.status, 0, `nft: ${r.stderr}`);
  return normalizeRuleset(r.stdout);
}

/** Elements of map NAME in a normalized listing (one per line after the first, nft's format). */
function mapElements(listing: string, name: string): number {
  const m = new RegExp(`^map ${name} \\{\\n(?:.*\\n)*?elements = \\{ ([^]*?) \\}$`, "m").exec(listing);
  return m ? m[1]!.split(",").length : 0;
}

describe(`forwards: at most ${MAX_FORWARDS} per network`, () => {
  needs(needsNft).test(
    `exactly ${MAX_FORWARDS} (${MAX_REMAPPED_PORTS} of their ports remapped) render to two map rules, and nft loads them`,
    {},
    () => {
      const ranges = 64;
      const stdin = doc(singles(MAX_FORWARDS - ranges) + remapped(ranges, MAX_REMAPPED_PORTS / ranges));
      assert.ok(Buffer.byteLength(stdin) <= MAX_XML_BYTES);
      const s = spec(stdin);
      assert.equal(s.forwards!.length, MAX_FORWARDS);
      const text = renderNft(s, []);
      // one rule for the lot, however many forwards
      assert.equal(text.match(/dnat ip to meta l4proto \. th dport map/g)?.length, 1);
      // ~640 KB: the maps plus one named counter per forward and its counter-map element (issue 18)
      assert.ok(text.length < 768 * 1024, `${text.length} bytes of nft text`);
      const listing = loadInThrowawayNamespace(text);
      assert.equal(mapElements(listing, FWD_PORT_MAP), MAX_FORWARDS - ranges + MAX_REMAPPED_PORTS);
    },
  );

  test(`${MAX_FORWARDS + 1} are refused at start begin, before anything runs`, async () => {
    await assertRefused(
      doc(singles(MAX_FORWARDS + 1)),
      `network "${NAME}": ${MAX_FORWARDS + 1} forwards (at most ${MAX_FORWARDS})`,
    );
  });

  needs(needsNft).test("ranges that keep their ports are one interval element each, loaded by nft", {}, () => {
    const body: string[] = [];
    for (let i = 0; i < 2000; i++)
      body.push(`<v:forward proto="udp" port="${1000 + i * 10}-${1000 + i * 10 + 4}" to="10.0.0.7"/>`);
    const listing = loadInThrowawayNamespace(renderNft(spec(doc(body.join(""))), []));
    assert.equal(mapElements(listing, FWD_RANGE_MAP), 2000);
    assert.equal(mapElements(listing, FWD_PORT_MAP), 0);
  });
});

describe(`ranges mapped to other ports: at most ${MAX_REMAPPED_PORTS} ports in all`, () => {
  test(`${MAX_REMAPPED_PORTS} + 1 are refused`, async () => {
    await assertRefused(
      doc(remapped(4, MAX_REMAPPED_PORTS / 4 - 1) + remapped(1, 5, 60000)),
      `network "${NAME}": port ranges mapped to other ports span ${MAX_REMAPPED_PORTS + 1} ports in all (at most ${MAX_REMAPPED_PORTS})`,
    );
  });
  test("a range that keeps its ports does not count", () => {
    const s = spec(doc(remapped(4, MAX_REMAPPED_PORTS / 4) + `<v:forward proto="tcp" port="1-40000" to="10.0.0.7"/>`));
    assert.equal(s.forwards!.length, 5);
  });
});

describe(`floating IPs: at most ${MAX_FLOATING} per network`, () => {
  // a /22 provider network and a /16 lan hold that many addresses and guests
  const floating = (n: number): string => {
    const out: string[] = [];
    for (let i = 0; i < n; i++)
      out.push(
        `<v:floating address="198.51.${101 + Math.floor(i / 250)}.${1 + (i % 250)}" to="10.0.${1 + Math.floor(i / 250)}.${1 + (i % 250)}"/>`,
      );
    return out.join("");
  };
  needs(needsNft).test(`exactly ${MAX_FLOATING} are accepted and loaded by nft`, {}, () => {
    const s = spec(doc(floating(MAX_FLOATING), "198.51.100.11/22", "10.0.0.1/16"));
    assert.equal(s.floating!.length, MAX_FLOATING);
    const listing = loadInThrowawayNamespace(renderNft(s, []));
    assert.equal(mapElements(listing, "floating_in"), MAX_FLOATING);
    assert.equal(mapElements(listing, "floating_out"), MAX_FLOATING);
  });
  test(`${MAX_FLOATING + 1} are refused at start begin, before anything runs`, async () => {
    await assertRefused(
      doc(floating(MAX_FLOATING + 1), "198.51.100.11/22", "10.0.0.1/16"),
      `network "${NAME}": ${MAX_FLOATING + 1} floating IPs (at most ${MAX_FLOATING})`,
    );
  });
});

describe("guests' DHCP and DNS limits (issue 13.3)", () => {
  const text = renderNft(spec(doc("")), []);
  const input = text.slice(text.indexOf("chain input {")).split("\n");
  test("are the input chain's first rules: nothing is accepted before them", () => {
    const firstAccept = input.findIndex((l) => / accept$/.test(l));
    const limits = input.map((l, i) => [l, i] as const).filter(([l]) => /limit rate over .* drop$/.test(l));
    assert.equal(limits.length, 4);
    assert.ok(limits.every(([, i]) => i < firstAccept));
    const { dhcpPerMac, dhcpAll, dnsPerSource } = GUEST_LIMITS;
    assert.match(
      limits[0]![0],
      new RegExp(
        `udp dport 67 update @${DHCP_SOURCES_SET} \\{ ether saddr limit rate over ${dhcpPerMac.rate}/second burst ${dhcpPerMac.burst} packets \\} drop$`,
      ),
    );
    assert.match(
      limits[1]![0],
      new RegExp(`udp dport 67 limit rate over ${dhcpAll.rate}/second burst ${dhcpAll.burst} packets drop$`),
    );
    assert.match(
      limits[2]![0],
      new RegExp(`udp dport 53 update @${DNS_SOURCES_SET} \\{ ip saddr limit rate over ${dnsPerSource.rate}/second`),
    );
    assert.match(limits[3]![0], new RegExp(`tcp dport 53 ct state new update @${DNS_SOURCES_SET} \\{ ip saddr`));
  });

  needs(needsNft).test("what packets add to the per-source sets is not drift; a changed rule is", {}, () => {
    const fresh = loadInThrowawayNamespace(text);
    const filled = loadInThrowawayNamespace(
      text,
      `nft add element ip vnat ${DHCP_SOURCES_SET} '{ 52:54:00:00:00:01 limit rate over 10/second burst 50 packets, 52:54:00:00:00:02 }' && ` +
        `nft add element ip vnat ${DNS_SOURCES_SET} '{ 10.0.0.5 }' &&`,
    );
    assert.equal(filled, fresh);
    assert.notEqual(loadInThrowawayNamespace(text.replace("burst 200 packets", "burst 201 packets")), fresh);
  });
});
