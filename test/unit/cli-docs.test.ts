// The completion scripts and the man page come from the CLI's command tree: walking that
// tree here, every command and option must appear in each; the bash script parses and
// completes, the zsh one parses, and the man page renders without a warning.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";
import type { Command, Option } from "commander";
import { bashCompletion, manPage, roffEscape, zshCompletion } from "../../src/cli/docs/docgen.ts";
import { MAN_TEXT } from "../../src/cli/docs/man-text.ts";
import { buildProgram, VERSION } from "../../src/cli/program.ts";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const program = buildProgram();
/** commands the CLI keeps out of help, completion and the man page */
const HIDDEN = new Set(["manpage"]);

interface Walked {
  path: string[];
  options: Option[];
  subcommands: string[];
}
function walk(cmd: Command, path: string[] = []): Walked[] {
  const subs = cmd.commands.filter((c) => !HIDDEN.has(c.name()));
  return [
    { path, options: cmd.options.filter((o) => !o.hidden), subcommands: subs.map((c) => c.name()) },
    ...subs.flatMap((c) => walk(c, [...path, c.name()])),
  ];
}
const tree = walk(program);
const has = (cmd: string): boolean => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;

test("the tree is what the CLI defines (sanity: the walk finds the known commands)", () => {
  const paths = tree.map((w) => w.path.join(" "));
  for (const p of ["", "net create", "forward add", "provider add", "status", "reconcile", "completion", "demo"])
    assert.ok(paths.includes(p), `${p} missing from the walk`);
  assert.ok(
    program.commands.some((c) => c.name() === "manpage"),
    "the build's man page generator",
  );
  assert.ok(
    !program
      .createHelp()
      .visibleCommands(program)
      .some((c) => c.name() === "manpage"),
    "manpage is hidden",
  );
});

describe("bash completion", () => {
  const script = bashCompletion(program);

  test("bash -n accepts it", () => {
    const r = spawnSync("bash", ["-n"], { input: script, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
  });

  test("every command path, subcommand and option is in it", () => {
    for (const w of tree) {
      const branch = new RegExp(`^    '${w.path.join(" ")}'\\)\\n((?:      .*\\n)+)`, "m").exec(script)?.[1];
      assert.ok(branch !== undefined, `no branch for "${w.path.join(" ")}"`);
      for (const s of w.subcommands)
        assert.match(branch, new RegExp(`cmds='(.* )?${s}( .*)?'`), `${s} under ${w.path}`);
      for (const o of w.options)
        for (const n of [o.short, o.long].filter((x) => x !== undefined))
          assert.ok(branch.includes(` ${n}`) || branch.includes(`'${n}`), `${n} of "${w.path.join(" ")}"`);
    }
  });

  test("it completes commands, options, choices and value words", () => {
    const complete = (...words: string[]): string[] => {
      const r = spawnSync(
        "bash",
        [
          "-c",
          `${script}\nCOMP_WORDS=("$@"); COMP_CWORD=$((\${#COMP_WORDS[@]} - 1)); _vnat; printf '%s\\n' "\${COMPREPLY[@]}"`,
          "t",
          "vnat",
          ...words,
        ],
        { encoding: "utf8" },
      );
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.split("\n").filter(Boolean).sort();
    };
    assert.ok(complete("").includes("net") && complete("").includes("completion"));
    assert.deepEqual(complete("ne"), ["net"]);
    assert.deepEqual(complete("net", ""), ["adopt", "create", "delete", "help", "list", "release", "set", "show"]);
    assert.ok(complete("net", "create", "x", "--up").includes("--uplink"));
    assert.deepEqual(complete("net", "create", "x", "--uplink", ""), ["auto"]);
    assert.deepEqual(complete("net", "create", "x", "--uplink", "=", ""), ["auto"]);
    assert.deepEqual(complete("net", "create", "x", "--subnet", "10.0.0.0/24", "--dhcp-range", ""), []);
    assert.deepEqual(complete("forward", "add", "web", ""), ["tcp", "udp"]);
    assert.deepEqual(complete("forward", "add", "web", "tcp", ""), []);
    assert.deepEqual(complete("provider", "add", "br0", "--attach", ""), ["auto", "macvlan", "veth"]);
    assert.deepEqual(complete("completion", ""), ["bash", "zsh"]);
    assert.ok(complete("help", "").includes("reconcile"));
  });

  test("names from libvirt are offered quoted and never expanded", () => {
    const marker = join(tmpdir(), `vnat-completion-${process.pid}`);
    const names = ["web", `$(touch ${marker})`, "a b", "`id`"];
    const r = spawnSync(
      "bash",
      [
        "-c",
        `${script}\n_vnat_candidates() { printf '%s\\n' "$@"; }\n` +
          `_vnat_candidates() { printf '%s\\n' ${names.map((n) => `'${n}'`).join(" ")}; }\n` +
          `COMP_WORDS=(vnat status ''); COMP_CWORD=2; _vnat; printf '%s\\n' "\${COMPREPLY[@]}"`,
      ],
      { encoding: "utf8" },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(r.stdout.split("\n").filter(Boolean), ["web", `\\$\\(touch\\ ${marker}\\)`, "a\\ b", "\\`id\\`"]);
    assert.ok(!existsSync(marker), "a name was run as a command");
  });
});

test("zsh completion: every command path and option; zsh -n accepts it where zsh is installed", () => {
  const script = zshCompletion(program);
  assert.match(script, /^#compdef vnat\n/);
  for (const w of tree) {
    assert.ok(script.includes(`    '${w.path.join(" ")}')\n`), `no branch for "${w.path.join(" ")}"`);
    for (const o of w.options)
      for (const n of [o.short, o.long].filter(Boolean))
        assert.ok(script.includes(` ${n}`) || script.includes(`'${n}`), `${n} of "${w.path.join(" ")}"`);
  }
  if (has("zsh")) {
    const r = spawnSync("zsh", ["-n"], { input: script, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
  } else assert.doesNotMatch(script, /\bpath=/, "zsh ties $path to $PATH: the script must not assign it");
});

describe("man page", () => {
  const page = manPage(program, VERSION, MAN_TEXT);

  test("every command and option is in it", () => {
    for (const w of tree.slice(1)) {
      const start = page.indexOf(`.SS "vnat ${roffEscape(w.path.join(" "))}"\n`);
      assert.ok(start >= 0, `no section for "${w.path.join(" ")}"`);
      const next = page.indexOf("\n.SS ", start + 1);
      const section = page.slice(start, next < 0 ? undefined : next);
      for (const o of w.options.filter((x) => x.long !== "--help"))
        assert.ok(section.includes(roffEscape(o.long ?? o.short!)), `${o.flags} of "${w.path.join(" ")}"`);
    }
    for (const o of program.options) assert.ok(page.includes(`\\fB${roffEscape(o.long!)}\\fR`));
    assert.ok(page.includes(`\\fB${roffEscape("--help")}\\fR`));
  });

  test("the roff is well formed: a title, the usual sections, only known macros", () => {
    assert.match(page, /^\.\\" .*\n\.TH VNAT 1 /);
    for (const s of ["NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS", "FILES", "SEE ALSO"])
      assert.match(page, new RegExp(`^\\.SH ${s}$`, "m"));
    const macros = new Set(["TH", "SH", "SS", "TP", "PP", "B", "I", "BR", "RI", "RS", "RE", "br", '\\"']);
    for (const line of page.split("\n").filter((l) => l.startsWith(".")))
      assert.ok(macros.has(line.slice(1).split(" ")[0]!), `unknown macro: ${line}`);
    // a text line never starts with a control character
    for (const line of page.split("\n")) assert.ok(!line.startsWith("'"), line);
  });

  test("groff renders it without a warning (where groff is installed)", () => {
    if (!has("groff")) {
      // the structure test above is what checks it then
      assert.ok(page.includes(".SH NAME\nvnat \\- "));
      return;
    }
    const r = spawnSync("groff", ["-man", "-Tutf8", "-ww", "-z"], { input: page, encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, "", "groff warned");
    const text = spawnSync("groff", ["-man", "-Tutf8", "-P-c", "-P-b", "-P-u"], { input: page, encoding: "utf8" });
    assert.match(text.stdout, /vnat net create \[options\] name/);
    assert.match(text.stdout, /--subnet cidr/);
  });

  test("the build writes the same page and the bash completion to dist/ (npm run build)", () => {
    for (const f of ["vnat.1", "vnat.bash"])
      assert.ok(existsSync(join(REPO, "dist", f)), `dist/${f} missing: npm run build`);
    // (a short message: the whole script in a diff says nothing)
    assert.ok(readFileSync(join(REPO, "dist/vnat.1"), "utf8") === page, "dist/vnat.1 is stale: npm run build");
    assert.ok(
      readFileSync(join(REPO, "dist/vnat.bash"), "utf8") === bashCompletion(program),
      "dist/vnat.bash is stale: npm run build",
    );
  });
});
