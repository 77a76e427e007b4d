// The operator's documents point only at what exists (issue 16.5):
//  - every relative link in README.md, CONTRIBUTING.md and docs/*.md (markdown, reference
//    and HTML links, and file names mentioned as text: `docs/x.md`, ../x) resolves to a file
//    or directory inside the repository, and a link's #anchor to a heading of its target;
//  - every `vnat COMMAND [--flag]` in README.md's code (blocks and inline) is a command and
//    option of the CLI, walked from the same command tree `vnat --help` prints.
// Each failure lists every offender, one line each: FILE:LINE: what is wrong.
import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import type { Command } from "commander";
import { buildProgram } from "../../src/cli/program.ts";

const REPO = resolve(fileURLToPath(new URL("../../", import.meta.url)));
const DOCS = [
  "README.md",
  "CONTRIBUTING.md",
  ...readdirSync(join(REPO, "docs"))
    .filter((f) => f.endsWith(".md"))
    .sort()
    .map((f) => `docs/${f}`),
];

interface Line {
  no: number;
  text: string;
  /** inside a fenced code block */
  code: boolean;
}

function linesOf(file: string): Line[] {
  let fence: string | undefined;
  return readFileSync(join(REPO, file), "utf8")
    .split("\n")
    .map((text, i) => {
      const open = /^\s*(`{3,}|~{3,})/.exec(text)?.[1];
      if (open && (fence === undefined || open.startsWith(fence))) {
        fence = fence === undefined ? open : undefined;
        return { no: i + 1, text, code: true };
      }
      return { no: i + 1, text, code: fence !== undefined };
    });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces to "-", repeats numbered. */
function anchorsOf(file: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const l of linesOf(file)) {
    for (const m of l.text.matchAll(/<a\s+(?:name|id)="([^"]+)"/g)) out.add(m[1]!);
    const h = l.code ? undefined : /^#{1,6}\s+(.*?)\s*#*\s*$/.exec(l.text)?.[1];
    if (h === undefined) continue;
    const base = h
      .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
      .replace(/<[^>]+>/g, "")
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    out.add(n === 0 ? base : `${base}-${n}`);
  }
  return out;
}

const external = (target: string): boolean => /^[a-z][a-z0-9+.-]*:/i.test(target) || target.startsWith("//");

/** What is wrong with link TARGET in FILE (undefined: nothing). */
function checkLink(file: string, target: string, asText: boolean): string | undefined {
  const [path, anchor] = target.split("#", 2) as [string, string | undefined];
  const candidates = path === "" ? [join(REPO, file)] : [resolve(REPO, dirname(file), decodeURI(path))];
  // a file named in prose may be named from the repository's top (`src/cli/log/log.ts` in docs/x.md)
  if (asText && !path.startsWith(".")) candidates.push(resolve(REPO, path));
  const inside = candidates.filter((c) => !relative(REPO, c).startsWith("..") && c !== REPO + "/..");
  if (inside.length === 0) return `"${target}" is outside the repository`;
  const found = inside.find((c) => existsSync(c));
  if (!found) return `"${target}": no such file in the repository`;
  if (anchor !== undefined && anchor !== "" && found.endsWith(".md") && statSync(found).isFile()) {
    if (!anchorsOf(relative(REPO, found)).has(anchor))
      return `"${target}": no heading "#${anchor}" in ${relative(REPO, found)}`;
  }
  return undefined;
}

/** Every relative reference in FILE: links outside code, and file names mentioned as text. */
function references(file: string): { no: number; target: string; asText: boolean }[] {
  const out: { no: number; target: string; asText: boolean }[] = [];
  for (const l of linesOf(file)) {
    if (!l.code) {
      for (const m of l.text.matchAll(/!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)/g))
        out.push({ no: l.no, target: m[1]!, asText: false });
      for (const m of l.text.matchAll(/^\s*\[[^\]]+\]:\s*<?(\S+?)>?(?:\s|$)/g))
        out.push({ no: l.no, target: m[1]!, asText: false });
      for (const m of l.text.matchAll(/\b(?:href|src)="([^"]+)"/g))
        out.push({ no: l.no, target: m[1]!, asText: false });
    }
    // a document named in prose or code (`docs/x.md`), or a file named by a path leaving the
    // file's directory (../shared/x.json); other paths (`../../etc`, a hostile name) are examples
    const prose = l.text.replace(/\]\([^)]*\)/g, "]").replace(/https?:\/\/\S+/g, "");
    for (const m of prose.matchAll(/(?<![\w/.~$-])((?:\.\.\/)+[\w-][\w./-]*\.\w+|[\w-][\w./-]*\.md)(?![\w/-])/g))
      out.push({ no: l.no, target: m[1]!.replace(/[.]+$/, ""), asText: true });
  }
  return out.filter((r) => !external(r.target));
}

test("the link check knows a good link from a bad one (sanity)", () => {
  assert.equal(checkLink("README.md", "docs/metadata.md", false), undefined);
  assert.equal(checkLink("docs/hook.md", "../README.md", false), undefined);
  assert.equal(checkLink("docs/hook.md", "README.md", true), undefined, "named from the repository's top");
  assert.equal(checkLink("README.md", "docs/", false), undefined);
  assert.equal(checkLink("README.md", "docs/nothing.md", false), '"docs/nothing.md": no such file in the repository');
  assert.equal(checkLink("README.md", "../shared/x.md", false), '"../shared/x.md" is outside the repository');
  assert.equal(checkLink("docs/hook.md", "README.md", false), '"README.md": no such file in the repository');
  const heading = [...anchorsOf("README.md")][0]!;
  assert.equal(checkLink("docs/hook.md", `../README.md#${heading}`, false), undefined);
  assert.equal(
    checkLink("docs/hook.md", "../README.md#no-such-heading", false),
    '"../README.md#no-such-heading": no heading "#no-such-heading" in README.md',
  );
  assert.deepEqual(
    references("README.md").filter((r) => r.target.startsWith("http")),
    [],
    "web links are not checked",
  );
});

test("every relative link and file named in README.md, CONTRIBUTING.md and docs/*.md resolves inside the repository", () => {
  const bad: string[] = [];
  for (const file of DOCS)
    for (const r of references(file)) {
      const why = checkLink(file, r.target, r.asText);
      if (why) bad.push(`${file}:${r.no}: ${why}`);
    }
  assert.deepEqual(bad, [], `\n${[...new Set(bad)].join("\n")}\n`);
});

// --- commands --------------------------------------------------------------------------

interface Node {
  cmd: Command;
  subs: Map<string, Node>;
  flags: Set<string>;
}
const ALWAYS = ["-h", "--help"];
function tree(cmd: Command): Node {
  const subs = new Map<string, Node>();
  for (const c of cmd.commands as Command[]) {
    if ((c as unknown as { _hidden?: boolean })._hidden) continue;
    const n = tree(c);
    for (const name of [c.name(), ...c.aliases()]) subs.set(name, n);
  }
  const flags = new Set(ALWAYS);
  for (const o of cmd.options) if (!o.hidden) for (const f of [o.long, o.short]) if (f) flags.add(f);
  return { cmd, subs, flags };
}
const ROOT = tree(buildProgram());
const cmdPath = (n: Node): string => {
  const names: string[] = [];
  for (let c: Command | null = n.cmd; c; c = c.parent) names.unshift(c.name());
  return names.join(" ");
};

/** What is wrong with the vnat command line WORDS (the words after "vnat"). */
function checkCommand(words: string[]): string[] {
  const bad: string[] = [];
  let nodes = [ROOT];
  let i = 0;
  // 1. the command path: words that name subcommands (a|b: each must)
  for (; i < words.length; i++) {
    const w = words[i]!.replace(/^\[|\]$/g, "");
    if (w.startsWith("-") || !nodes.some((n) => n.subs.size > 0)) break;
    const alts = w.split("|");
    const next: Node[] = [];
    for (const n of nodes)
      for (const a of alts) {
        const s = n.subs.get(a);
        if (s) next.push(s);
        else if (n.subs.size > 0 && !/^[A-Z]/.test(a)) bad.push(`${cmdPath(n)} ${a}: no such command`);
      }
    if (next.length === 0) break;
    nodes = next;
  }
  // 2. its options (up to "--": what follows is another command's)
  for (; i < words.length && words[i] !== "--"; i++) {
    for (const part of words[i]!.split("|")) {
      const flag = /^\[?(--?[A-Za-z][\w-]*)/.exec(part)?.[1];
      if (flag && !nodes.some((n) => n.flags.has(flag)))
        bad.push(`${nodes.map(cmdPath).join("|")} ${flag}: no such option`);
    }
  }
  return bad;
}

/** Every vnat command line in README.md's code: fenced blocks and inline `vnat …` spans. */
function commandLines(file: string): { no: number; words: string[] }[] {
  const out: { no: number; words: string[] }[] = [];
  const starts = new Set(["sudo", "$", "#", "|", "&&", "||", ";", "(", "$(", "`", "time", "exec"]);
  const scan = (no: number, text: string): void => {
    const words = text
      .replace(/\s#\s.*$/, "")
      .split(/\s+/)
      .filter(Boolean);
    words.forEach((w, k) => {
      const prev = words[k - 1];
      const at =
        w === "vnat" && (prev === undefined || starts.has(prev) || /[;|&(]$/.test(prev) || /^[A-Z_]+=/.test(prev));
      if (!at) return;
      const end = words.findIndex((x, j) => j > k && /^(\||&&|\|\||;)$|;$/.test(x));
      const rest = words.slice(k + 1, end === -1 ? undefined : end + 1).map((x) => x.replace(/;$/, ""));
      out.push({ no, words: rest.filter((x) => !/^(\||&&|\|\||)$/.test(x)) });
    });
  };
  for (const l of linesOf(file)) {
    if (/^\s*(`{3,}|~{3,})/.test(l.text)) continue;
    if (l.code) scan(l.no, l.text.replace(/^\s*[$#]\s+/, ""));
    else for (const m of l.text.matchAll(/`(vnat(?:\s[^`]*)?)`/g)) scan(l.no, m[1]!);
  }
  return out;
}

test("the walk knows the CLI (sanity: known commands and options, and a made-up one is caught)", () => {
  assert.deepEqual(checkCommand(["net", "create", "web", "--subnet", "10.0.0.0/24"]), []);
  assert.deepEqual(checkCommand(["status", "[NET...]", "[--json]", "[--probe]"]), []);
  assert.deepEqual(checkCommand(["provider", "add|remove"]), []);
  assert.deepEqual(checkCommand(["exec", "web", "--", "ssh", "--frob"]), []);
  assert.deepEqual(checkCommand(["--version"]), []);
  assert.deepEqual(checkCommand(["net", "frob"]), ["vnat net frob: no such command"]);
  assert.deepEqual(checkCommand(["status", "--frob"]), ["vnat status --frob: no such option"]);
  assert.deepEqual(checkCommand(["frob"]), ["vnat frob: no such command"]);
});

test("every vnat command and option in README.md's code exists in the CLI", () => {
  const bad: string[] = [];
  const lines = commandLines("README.md");
  assert.ok(lines.length > 5, "the README shows vnat commands");
  for (const { no, words } of lines) for (const why of checkCommand(words)) bad.push(`README.md:${no}: ${why}`);
  assert.deepEqual(bad, [], `\n${[...new Set(bad)].join("\n")}\n`);
});
