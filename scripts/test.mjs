// Runs the test suites with Node's own runner. Files are listed here, not by a glob:
// Node 20 expands no quoted glob, and an unquoted `**` in an npm script silently skips
// files (FACTS.md). Integration tests share one libvirt daemon and one kernel, so they
// run one file at a time.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function find(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (p.endsWith(".test.ts")) out.push(p);
  }
  return out.sort();
}

const suites = process.argv.slice(2);
const which = suites.length ? suites : ["unit", "integration", "e2e"];
const files = which.flatMap((s) => {
  try {
    return find(join("test", s));
  } catch {
    return [];
  }
});
if (files.length === 0) {
  console.error(`no test files found under test/{${which.join(",")}}`);
  process.exit(1);
}
const r = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=1", "--test-reporter=spec", ...files],
  { stdio: "inherit" },
);
process.exit(r.status ?? 1);
