// src/cli/metrics/ and src/cli/exporter/: `vnat metrics [--textfile DIR]` and `vnat exporter
// [--listen ADDRESS:PORT]`, registered cheaply; --listen (src/core/metrics/listen.ts) is refused
// in one line naming what is allowed; a bad --textfile is refused before anything is probed;
// overlapping scrapes share one collection (singleFlight).
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { registerExporter } from "../../src/cli/exporter/exporter.ts";
import { exporter, singleFlight } from "../../src/cli/exporter/run.ts";
import { registerMetrics } from "../../src/cli/metrics/metrics.ts";
import { metrics } from "../../src/cli/metrics/run.ts";
import { DEFAULT_LISTEN, isLoopback, parseListen } from "../../src/core/metrics/listen.ts";
import { cachedLibvirtView } from "../../src/exec/probe/metrics.ts";
import { argsOf, dynamicImports, optionsOf, registered, staticImports, sub } from "../support/cli.ts";

test("metrics [--textfile DIR], exporter [--listen ADDRESS:PORT]; no arguments", () => {
  const m = sub(registered(registerMetrics), "metrics");
  assert.deepEqual(argsOf(m), []);
  assert.deepEqual(Object.keys(optionsOf(m)), ["--textfile <dir>"]);
  const e = sub(registered(registerExporter), "exporter");
  assert.deepEqual(argsOf(e), []);
  assert.deepEqual(Object.keys(optionsOf(e)), ["--listen <address:port>"]);
});

test("registration is cheap: commander only; run.ts inside the action", () => {
  for (const f of ["src/cli/metrics/metrics.ts", "src/cli/exporter/exporter.ts"]) {
    assert.deepEqual(staticImports(f), ["commander"], f);
    assert.deepEqual(dynamicImports(f), ["./run.ts"], f);
  }
});

test("--listen: IPv4:PORT or [IPv6]:PORT; loopback by default", () => {
  assert.deepEqual(parseListen(DEFAULT_LISTEN), { host: "127.0.0.1", port: 9745 });
  assert.deepEqual(parseListen("0.0.0.0:9100"), { host: "0.0.0.0", port: 9100 });
  assert.deepEqual(parseListen("[::1]:9745"), { host: "::1", port: 9745 });
  assert.ok(isLoopback("127.0.0.1") && isLoopback("::1") && !isLoopback("0.0.0.0") && !isLoopback("::"));
  for (const bad of [
    "",
    "9745",
    ":9745",
    "127.0.0.1",
    "127.0.0.1:0",
    "127.0.0.1:65536",
    "127.0.0.1:99999",
    "256.0.0.1:80",
    "localhost:9745",
    "::1:9745",
    "[::1]",
    "[zz]:80",
    "[127.0.0.1]:80",
    "127.0.0.1:80\nx",
    'a"b:1',
  ])
    assert.throws(
      () => parseListen(bad),
      (e: Error) =>
        !e.message.includes("\n") &&
        e.message.endsWith(
          "expected ADDRESS:PORT, an IPv4 address or [IPv6 address] and a port 1-65535 (default 127.0.0.1:9745)",
        ),
      JSON.stringify(bad),
    );
});

test("the exporter refuses a bad --listen before it listens", async () => {
  await assert.rejects(exporter("127.0.0.1:http"), (e: Error) =>
    e.message.startsWith(`--listen "127.0.0.1:http": expected ADDRESS:PORT`),
  );
});

test("--textfile must be a directory; nothing is probed otherwise", async () => {
  const dir = mkdtempSync(join(tmpdir(), "vnat-textfile-"));
  try {
    const file = join(dir, "plain");
    writeFileSync(file, "");
    for (const bad of [file, join(dir, "missing")])
      await assert.rejects(
        metrics({ textfile: bad }),
        (e: Error) =>
          e.message ===
          `--textfile ${JSON.stringify(bad)}: not a directory (node_exporter's --collector.textfile.directory)`,
      );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("singleFlight: overlapping calls share one run; the next call runs again", async () => {
  let runs = 0;
  let release!: () => void;
  const f = singleFlight(async () => {
    runs++;
    await new Promise<void>((r) => (release = r));
    return runs;
  });
  const [a, b] = [f(), f()];
  release();
  assert.deepEqual(await Promise.all([a, b]), [1, 1]);
  const c = f();
  release();
  assert.equal(await c, 2);
  const failing = singleFlight(async () => {
    throw new Error("boom");
  });
  await assert.rejects(failing(), /boom/);
  await assert.rejects(failing(), /boom/, "a failure is not remembered");
});

test("libvirt's view is asked again after a vnat event or the TTL, and a failed read is not kept", async () => {
  let reads = 0;
  let stamp = "1";
  let clock = 0;
  let fail = false;
  const view = cachedLibvirtView(
    async () => {
      reads++;
      if (fail) throw new Error("libvirt down");
      return [];
    },
    async () => stamp,
    15_000,
    () => clock,
  );
  await view();
  await view();
  assert.equal(reads, 1, "nothing happened: the same view");
  stamp = "2";
  await view();
  assert.equal(reads, 2, "an event finished: asked again");
  clock += 15_000;
  await view();
  assert.equal(reads, 3, "the TTL passed: asked again");
  fail = true;
  stamp = "3";
  await assert.rejects(view(), /libvirt down/);
  fail = false;
  await view();
  assert.equal(reads, 5, "the failure was not kept");
});
