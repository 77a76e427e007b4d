// Tests mirror src/ (issue 14.7): every module in src/ has a test that names it directly —
// an import (static or dynamic) of the module, or, for an entry point that exits (the
// hook's and the CLI's main.ts), a test that spawns that very file from source. A module
// added without one fails here, with its path.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");

function walk(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) walk(p, out);
    else if (e.name.endsWith(".ts")) out.push(p);
  }
  return out;
}

/** The src/ modules a test file names: relative imports resolved, and "src/…ts" paths in its strings. */
export function modulesNamed(file: string, text: string): Set<string> {
  const out = new Set<string>();
  for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+\.ts)["']/g))
    out.add(relative(root, resolve(dirname(file), m[1]!)));
  // a path in a string (what a test spawns), not one in a comment
  for (const m of text.matchAll(/["'`](?:[\w./-]*\/)?(src\/[\w./-]+\.ts)["'`]/g)) out.add(m[1]!);
  return out;
}

test("every module in src/ has a test that imports it (or, for an entry point, runs it) directly", () => {
  const modules = walk(join(root, "src")).map((f) => relative(root, f));
  const named = new Set<string>();
  for (const f of walk(join(root, "test")).filter(
    (f) => f.endsWith(".test.ts") && f !== fileURLToPath(import.meta.url),
  ))
    for (const m of modulesNamed(f, readFileSync(f, "utf8"))) named.add(m);
  const missing = modules.filter((m) => !named.has(m)).sort();
  assert.deepEqual(missing, [], `modules no test names directly:\n${missing.join("\n")}`);
});

test("the check itself: an import, a dynamic import and a spawned path count; a path in a comment does not", () => {
  const f = join(root, "test/unit/x.test.ts");
  const got = modulesNamed(
    f,
    `import { a } from "../../src/core/ipv4.ts";\nconst m = await import("../../src/cli/table.ts");\nspawn(node, ["src/hook/main.ts"]);\n// see src/core/names.ts`,
  );
  assert.deepEqual([...got].sort(), ["src/cli/table.ts", "src/core/ipv4.ts", "src/hook/main.ts"]);
});
