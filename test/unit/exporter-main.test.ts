// src/cli/exporter/main.ts and args.ts: the exporter's own entry point (dist/exporter.js), which
// the installed `vnat exporter` and contrib/systemd/vnat-exporter.service run. It takes the same
// arguments as the CLI's `vnat exporter` (src/cli/exporter/exporter.ts), refuses others in one
// line with the usage exit code, and its bundle holds none of the rest of the CLI.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { build } from "esbuild";
import { exporterArgs, EXPORTER_HELP } from "../../src/cli/exporter/args.ts";
import { registerExporter } from "../../src/cli/exporter/exporter.ts";
import { exitCode } from "../../src/core/errors.ts";
import { REPO, registered, sub } from "../support/cli.ts";

const squash = (s: string): string => s.replace(/\s+/g, " ").trim();

test("--listen ADDRESS:PORT, --listen=ADDRESS:PORT, --help; nothing else", () => {
  assert.deepEqual(exporterArgs([]), { help: false });
  assert.deepEqual(exporterArgs(["--listen", "127.0.0.1:9745"]), { help: false, listen: "127.0.0.1:9745" });
  assert.deepEqual(exporterArgs(["--listen=[::1]:9100"]), { help: false, listen: "[::1]:9100" });
  assert.deepEqual(exporterArgs(["-h"]), { help: true });
  assert.deepEqual(exporterArgs(["--help", "--listen", "x"]), { help: true, listen: "x" });
  for (const [argv, what] of [
    [["--bogus"], "unknown option '--bogus'"],
    [["--listen"], "option '--listen <address:port>' argument missing"],
    [["serve"], "too many arguments for 'exporter'. Expected 0 arguments but got 1"],
    [["--listen", "127.0.0.1:1", "a", "b"], "too many arguments for 'exporter'. Expected 0 arguments but got 2"],
  ] as const)
    assert.throws(
      () => exporterArgs(argv),
      (e: Error & { exitCode?: number }) =>
        e.message === `exporter: ${what} (see vnat exporter --help)` && e.exitCode === exitCode("usage"),
      argv.join(" "),
    );
});

test("its help says what the CLI's `vnat exporter` declares", () => {
  const e = sub(registered(registerExporter), "exporter");
  const help = squash(EXPORTER_HELP);
  assert.ok(help.includes(squash(e.description())), help);
  for (const o of e.options) assert.ok(help.includes(`${o.flags} ${squash(o.description)}`), o.flags);
});

test("main.ts: --help prints the help; a bad argument is one line and the usage exit code", () => {
  const run = (...args: string[]) =>
    spawnSync(process.execPath, ["--import", "tsx", "src/cli/exporter/main.ts", ...args], {
      cwd: REPO,
      encoding: "utf8",
      timeout: 60_000,
    });
  const help = run("--help");
  assert.deepEqual([help.status, help.stdout, help.stderr], [0, EXPORTER_HELP, ""]);
  const bad = run("--listen=127.0.0.1:9745", "--verbose");
  assert.deepEqual(
    [bad.status, bad.stdout, bad.stderr],
    [exitCode("usage"), "", "vnat: exporter: unknown option '--verbose' (see vnat exporter --help)\n"],
  );
});

test("the exporter's bundle holds no commander, no logger and no other command", async () => {
  const r = await build({
    entryPoints: [`${REPO}src/cli/exporter/main.ts`],
    bundle: true,
    platform: "node",
    format: "esm",
    write: false,
    metafile: true,
    logLevel: "silent",
  });
  const inputs = Object.keys(r.metafile.inputs);
  assert.ok(inputs.includes("src/cli/exporter/run.ts"), inputs.join(" "));
  const heavy = inputs.filter((f) =>
    /node_modules\/(commander|pino)\/|^src\/cli\/(program|registry|docs\/|net\/|provider\/)|^src\/adapters\/log/.test(
      f,
    ),
  );
  assert.deepEqual(heavy, []);
  assert.ok(
    readFileSync(`${REPO}scripts/build.mjs`, "utf8").includes('exporter: "src/cli/exporter/main.ts"'),
    "scripts/build.mjs builds dist/exporter.js from main.ts",
  );
});
