// Runs the test suites with Node's own runner. Files are listed here, not by a glob:
// Node 20 expands no quoted glob, and an unquoted `**` in an npm script silently skips
// files (FACTS.md). Integration tests share one libvirt daemon and one kernel, so they
// run one file at a time.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
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
// spec for people, TAP to a file for the closing "N passed, N failed" line CI reads
const dir = mkdtempSync(join(tmpdir(), "vnat-test-"));
const tap = join(dir, "results.tap");
const r = spawnSync(
  process.execPath,
  [
    "--import",
    "tsx",
    "--test",
    "--test-concurrency=1",
    "--test-reporter=spec",
    "--test-reporter-destination=stdout",
    "--test-reporter=tap",
    `--test-reporter-destination=${tap}`,
    ...files,
  ],
  { stdio: "inherit" },
);
let text = "";
try {
  text = readFileSync(tap, "utf8");
} catch {
  /* runner died before writing */
}
rmSync(dir, { recursive: true, force: true });
const count = (k) => Number(new RegExp(`^# ${k} (\\d+)$`, "m").exec(text)?.[1] ?? 0);
console.log(`\ntests: ${count("pass")} passed, ${count("fail") + count("cancelled")} failed, ${count("skipped")} skipped`);
process.exit(r.status ?? 1);
