// IPv6 on provider networks (issue 17) through the CLI's actions, on a temp config
// (VNAT_CONFIG): `provider add --gateway6/--pool6/--dns6` stores canonical text, `provider
// list` grows IPv6 columns only once a provider has an IPv6 side, `provider set` changes
// and removes gateway6/pool6/dns6, and every bad value is refused in one line with the file unchanged.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { providerAdd, providerList } from "../../src/cli/provider/actions.ts";
import { providerSet } from "../../src/cli/provider/set.ts";
import { VnatError } from "../../src/core/errors.ts";
import { capture } from "../support/cli.ts";
import { cliHost, type CliHost } from "../support/cli-host.ts";

let h: CliHost;
before(async () => (h = await cliHost()));
after(() => h.close());

const text = () => readFileSync(h.roots.config, "utf8");
const entry = (bridge: string) =>
  (JSON.parse(text()) as { providers: Array<Record<string, unknown>> }).providers.find((p) => p.bridge === bridge);

test("list without any IPv6 provider: the IPv4 columns only", async () => {
  const t = await capture(() => providerList({}));
  assert.match(t.out.split("\n")[0]!, /^BRIDGE\s+GATEWAY\s+POOL\s+DNS\s+ATTACH$/);
});

test("add --gateway6 --pool6 --dns6: stored as canonical text; list shows the IPv6 columns", async () => {
  const r = await capture(() =>
    providerAdd("vtp6a", {
      gateway: "198.51.100.1",
      gateway6: "2001:DB8:100:0::1/64",
      pool6: "2001:db8:100::100-2001:db8:100::1ff",
      dns6: ["2001:db8:200::10"],
    }),
  );
  assert.equal(r.error, undefined, String(r.error));
  assert.deepEqual(entry("vtp6a"), {
    bridge: "vtp6a",
    gateway: "198.51.100.1/24",
    dns: [],
    gateway6: "2001:db8:100::1/64",
    pool6: "2001:db8:100::100-2001:db8:100::1ff",
    dns6: ["2001:db8:200::10"],
  });
  const t = await capture(() => providerList({}));
  const lines = t.out.trimEnd().split("\n");
  assert.match(lines[0]!, /^BRIDGE\s+GATEWAY\s+POOL\s+DNS\s+ATTACH\s+GATEWAY6\s+POOL6\s+DNS6$/);
  assert.ok(
    lines.some((l) =>
      /^vtp6a\s+198\.51\.100\.1\/24\s+-\s+-\s+auto\s+2001:db8:100::1\/64\s+2001:db8:100::100-2001:db8:100::1ff\s+2001:db8:200::10$/.test(
        l,
      ),
    ),
    t.out,
  );
  assert.ok(
    lines.some((l) => new RegExp(`^${h.provider}\\s.*\\s-\\s+-\\s+-$`).test(l)),
    "an IPv4-only provider: dashes",
  );
});

test("add refuses bad IPv6 input in one line naming the provider; the file is unchanged", async () => {
  const before = text();
  const cases: Array<[{ gateway6?: string; pool6?: string; dns6?: string[] }, RegExp]> = [
    [{ gateway6: "2001:db8:100::1/96" }, /gateway6/],
    [{ gateway6: "fe80::zz/64" }, /gateway6/],
    [{ gateway6: "2001:db8:100::/64" }, /gateway6/],
    [{ pool6: "2001:db8:100::10-2001:db8:100::20" }, /needs a gateway6/],
    [{ gateway6: "2001:db8:100::1/64", pool6: "2001:db8:999::10-2001:db8:999::20" }, /outside/],
    [{ gateway6: "2001:db8:100::1/64", dns6: ["198.51.100.53"] }, /dns6/],
  ];
  for (const [o, re] of cases) {
    const r = await capture(() => providerAdd("vtp6bad", { gateway: "198.51.100.1", ...o }));
    assert.ok(r.error instanceof VnatError, `${JSON.stringify(o)}: ${String(r.error)}`);
    assert.doesNotMatch(r.error.message, /\n/);
    assert.match(r.error.message, /vtp6bad/);
    assert.match(r.error.message, re);
  }
  assert.equal(text(), before);
});

test("set gateway6/pool6/dns6: before -> after; none removes; a bad value is refused, the file unchanged", async () => {
  const r = await capture(() =>
    providerSet(h.provider, ["gateway6=2001:db8:100::1/64", "pool6=2001:db8:100::200-2001:db8:100::2ff"], {}),
  );
  assert.equal(r.error, undefined, String(r.error));
  assert.deepEqual(r.out.trimEnd().split("\n").slice(0, 3), [
    `provider "${h.provider}": updated in ${h.roots.config}`,
    "  gateway6: - -> 2001:db8:100::1/64",
    "  pool6: - -> 2001:db8:100::200-2001:db8:100::2ff",
  ]);
  assert.equal(entry(h.provider)?.gateway6, "2001:db8:100::1/64");
  const d = await capture(() => providerSet(h.provider, ["dns6=2001:db8:200::10,2001:db8:200::11"], {}));
  assert.equal(d.error, undefined, String(d.error));
  assert.deepEqual(entry(h.provider)?.dns6, ["2001:db8:200::10", "2001:db8:200::11"]);

  const before = text();
  for (const words of [["gateway6=2001:db8:100::1"], ["pool6=2001:db8:100::5"], ["gateway6=none"], ["dns6=nope"]]) {
    const bad = await capture(() => providerSet(h.provider, words, {}));
    assert.ok(bad.error instanceof VnatError, `${words.join(" ")}: ${String(bad.error)}`);
    assert.doesNotMatch(bad.error.message, /\n/);
    assert.match(bad.error.message, new RegExp(h.provider));
  }
  assert.equal(text(), before, "refused changes leave the file as it was");

  const off = await capture(() => providerSet(h.provider, ["pool6=none", "dns6=none", "gateway6=none"], {}));
  assert.equal(off.error, undefined, String(off.error));
  const e = entry(h.provider)!;
  assert.deepEqual([e.gateway6, e.pool6, e.dns6], [undefined, undefined, undefined]);
});
