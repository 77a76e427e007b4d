// src/cli/main.ts, the vnat command from source: the only place that prints an error (one
// line, "vnat: " once) and exits, with the code of the one table (docs/exit-codes.md);
// it sets umask 077 before any command runs, and --version/--help load no command's code.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { modulesLoaded, REPO, vnat } from "../support/cli.ts";

test("--version: 0, the version alone on stdout", () => {
  const r = vnat(["--version"]);
  assert.deepEqual([r.status, r.stdout, r.stderr], [0, "0.1.0\n", ""]);
});

test("--help: 0, the exit-code table at the end of the help", () => {
  const r = vnat(["--help"]);
  assert.equal(r.status, 0);
  assert.equal(r.stderr, "");
  assert.match(r.stdout, /^Usage: vnat \[options\] \[command\]/);
  assert.match(
    r.stdout,
    /\nExit codes: 0 ok, 1 needs-attention, 2 invalid-input, 3 conflict, 4 apply-failed, 5 rollback-incomplete, 64 usage, 70 internal, 77 needs-root \(docs\/exit-codes\.md\)\n$/,
  );
});

test("usage errors: 64 and one line, the command's path and where its help is", () => {
  const cases: Array<[string[], string]> = [
    [["--bogus"], "vnat: unknown option '--bogus' (see vnat --help)\n"],
    [
      ["status", "--probes"],
      "vnat: status: unknown option '--probes' (did you mean --probe? see vnat status --help)\n",
    ],
    [
      ["doctor", "now"],
      "vnat: doctor: too many arguments for 'doctor'. Expected 0 arguments but got 1 (see vnat doctor --help)\n",
    ],
  ];
  for (const [args, line] of cases) {
    const r = vnat(args);
    assert.deepEqual([r.status, r.stdout, r.stderr], [64, "", line], args.join(" "));
  }
  const n = vnat(["log", "-n", "x"]);
  assert.equal(n.status, 64);
  assert.match(
    n.stderr,
    /^vnat: log: option '-n, --lines <n>' argument 'x' is invalid\. a number of lines \(0 or more\)[^\n]*\n$/,
  );
  const bare = vnat([]);
  assert.equal(bare.status, 64, "no command: the help on stderr, exit 64");
  assert.match(bare.stderr, /^Usage: vnat /);
});

test("a VnatError: its kind's exit code, one line prefixed once; hostile input does not break the line", () => {
  const conn = vnat(["-c", "qemu:///session", "status"]);
  assert.equal(conn.status, 2);
  assert.equal(conn.stdout, "");
  assert.match(conn.stderr, /^vnat: libvirt URI "qemu:\/\/\/session" \(-c\/--connect\): [^\n]*\n$/);
  const name = vnat(["log", "we\nb\x1b[2J"]);
  assert.equal(name.status, 2);
  assert.equal(name.stderr.split("\n").length, 2, JSON.stringify(name.stderr));
  assert.match(name.stderr, /^vnat: network name "we/);
  assert.doesNotMatch(name.stderr, /\x1b/);
});

test("an error vnat did not expect (not a VnatError): 70 and one line", () => {
  const dir = mkdtempSync(join(tmpdir(), "vnat-main-"));
  try {
    mkdirSync(join(dir, "hook.log")); // the log is a directory: reading it fails with EISDIR
    const r = vnat(["log"], { VNAT_LOG_DIR: dir });
    assert.equal(r.status, 70);
    assert.equal(r.stdout, "");
    assert.match(r.stderr, /^vnat: EISDIR[^\n]*\n$/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a command that returns: exit 0 (vnat log without a log: a note on stderr, nothing on stdout)", () => {
  const dir = mkdtempSync(join(tmpdir(), "vnat-main-"));
  try {
    const r = vnat(["log"], { VNAT_LOG_DIR: dir });
    assert.deepEqual(
      [r.status, r.stdout, r.stderr],
      [0, "", `vnat: log file "${dir}/hook.log": not there yet (the hook writes it at its first vnat event)\n`],
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("umask 077 whatever the caller's: a directory vnat makes is root's alone", () => {
  const dir = mkdtempSync(join(tmpdir(), "vnat-main-"));
  try {
    const config = join(dir, "etc", "config.json");
    const r = spawnSync(
      "/bin/sh",
      [
        "-c",
        'umask 000 && exec "$0" --import tsx src/cli/main.ts provider add vnt-um --gateway 198.51.100.1/24',
        process.execPath,
      ],
      { cwd: REPO, encoding: "utf8", env: { ...process.env, VNAT_CONFIG: config } },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `added provider "vnt-um" to ${config}\n`);
    assert.equal(statSync(join(dir, "etc")).mode & 0o777, 0o700);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--version and --help load no command's code (no action module, nothing of src/exec but the runner libvirt's adapter holds, nothing of src/hook)", () => {
  for (const arg of ["--version", "--help"]) {
    const { loaded, ran } = modulesLoaded(
      `process.argv = [process.execPath, "vnat", ${JSON.stringify(arg)}]; await import("./src/cli/main.ts");`,
    );
    assert.equal(ran.status, 0, ran.stderr);
    const cli = loaded.filter((m) => m.startsWith("src/cli/"));
    assert.ok(cli.includes("src/cli/main.ts") && cli.includes("src/cli/program.ts"), arg);
    assert.deepEqual(
      cli.filter((m) => /-(run|actions|create|adopt|show|set|edit)\.ts$|docgen/.test(m)),
      [],
      `${arg}: ${cli.join(" ")}`,
    );
    assert.deepEqual(
      loaded.filter((m) => (m.startsWith("src/exec/") && m !== "src/exec/run.ts") || m.startsWith("src/hook/")),
      [],
      arg,
    );
  }
});
