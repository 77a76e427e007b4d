// src/cli/provider/set.ts: `vnat provider set BR key=value…` on a temp config (VNAT_CONFIG)
// with the real libvirt asked for running networks: each change said as before -> after,
// --dry-run changes nothing, bad keys and values refused in one line with the file unchanged.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, test } from "node:test";
import { providerSet } from "../../src/cli/provider/set.ts";
import { VnatError } from "../../src/core/errors.ts";
import { capture } from "../support/cli.ts";
import { cliHost, PROVIDER_POOL, type CliHost } from "../support/cli-host.ts";

let h: CliHost;
before(async () => (h = await cliHost()));
after(() => h.close());

const text = () => readFileSync(h.roots.config, "utf8");
const entry = () => (JSON.parse(text()) as { providers: Array<Record<string, unknown>> }).providers[0]!;

test("--dry-run: the change validated and shown, the file untouched", async () => {
  const before = text();
  const r = await capture(() => providerSet(h.provider, ["pool=198.51.100.30-198.51.100.40"], { dryRun: true }));
  assert.equal(r.error, undefined, String(r.error));
  assert.equal(
    r.out,
    `provider "${h.provider}": dry run, nothing changed; valid:\n  pool: ${PROVIDER_POOL} -> 198.51.100.30-198.51.100.40\n`,
  );
  assert.equal(text(), before);
});

test("a change: written, each key as before -> after, with the note about running networks", async () => {
  const r = await capture(() => providerSet(h.provider, ["dns=198.51.100.53,9.9.9.9", "attach=veth"], {}));
  assert.equal(r.error, undefined, String(r.error));
  const lines = r.out.trimEnd().split("\n");
  assert.deepEqual(lines.slice(0, 3), [
    `provider "${h.provider}": updated in ${h.roots.config}`,
    "  dns: - -> 198.51.100.53,9.9.9.9",
    "  attach: - -> veth",
  ]);
  assert.match(lines[3]!, /running networks on it use the new settings at their next start/);
  assert.deepEqual(entry().dns, ["198.51.100.53", "9.9.9.9"]);
  assert.equal(entry().attach, "veth");
});

test("--json: the provider before and after", async () => {
  const r = await capture(() => providerSet(h.provider, ["pool=none"], { json: true }));
  assert.equal(r.error, undefined, String(r.error));
  const doc = JSON.parse(r.out) as {
    provider: string;
    before: Record<string, unknown>;
    after: Record<string, unknown>;
  };
  assert.equal(doc.provider, h.provider);
  assert.equal(doc.before.pool, PROVIDER_POOL);
  assert.equal(doc.after.pool, undefined);
  assert.equal(entry().pool, undefined);
});

test("refused in one line, file unchanged: an unknown key, a bad value, a word without =, an unknown provider", async () => {
  const before = text();
  for (const [bridge, words] of [
    [h.provider, ["colour=blue"]],
    [h.provider, ["gateway=10.0.0.300"]],
    [h.provider, ["attach"]],
    [h.provider, ["attach=sometimes"]],
    ["vtpnone", ["attach=veth"]],
  ] as const) {
    const r = await capture(() => providerSet(bridge, [...words], {}));
    assert.ok(r.error instanceof VnatError, `${words.join(" ")}: ${String(r.error)}`);
    assert.equal(r.error.kind, "invalid-input", r.error.message);
    assert.doesNotMatch(r.error.message, /\n/);
    assert.equal(r.out, "");
  }
  assert.equal(text(), before);
});

test("not root: refused before the config is read", async () => {
  const real = process.getuid;
  process.getuid = () => 1000;
  try {
    await assert.rejects(
      providerSet(h.provider, ["attach=auto"], {}),
      (e: unknown) => e instanceof VnatError && e.kind === "needs-root",
    );
  } finally {
    process.getuid = real;
  }
});
