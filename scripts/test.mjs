// Runs the test suites with Node's own runner. Files are listed here, not by a glob:
// Node 20 expands no quoted glob, and an unquoted `**` in an npm script silently skips
// files (FACTS.md). Integration tests share one libvirt daemon and one kernel, so they
// run one file at a time.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * What every suite needs, checked before anything runs: root, Node >= 20.10, the Debian
 * packages of both lists (install.sh --demo and .ci/run install them), the npm
 * dependencies. Anything missing is ONE line naming it and the command that installs it,
 * and nothing runs (a machine without them would otherwise fail dozens of tests). Then the
 * bundles, the man page and the completion are built, so the tests run this checkout.
 */
function checkPrerequisites() {
  const need = [];
  const how = [];
  const root = process.getuid?.() === 0;
  if (!root) need.push("root");
  const [major, minor] = process.versions.node.split(".").map(Number);
  if (major < 20 || (major === 20 && minor < 10)) {
    need.push(`Node.js >= 20.10 (this is ${process.version})`);
    how.push('Node 20 from NodeSource or nvm (README "Node.js")');
  }
  const listed = ["scripts/debian-packages.txt", "scripts/debian-packages-test.txt"].flatMap((f) =>
    readFileSync(f, "utf8")
      .split("\n")
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith("#")),
  );
  const installed = new Set();
  const q = spawnSync("dpkg-query", ["-W", "-f=${Package} ${Status}\n", ...listed], { encoding: "utf8" });
  for (const line of (q.stdout ?? "").split("\n")) {
    const [pkg, ...status] = line.split(" ");
    if (status.join(" ") === "install ok installed") installed.add(pkg.replace(/:.*$/, ""));
  }
  const packages = listed.filter((p) => !installed.has(p));
  if (q.error) {
    need.push("dpkg-query (a Debian system)");
  } else if (packages.length) {
    need.push(packages.join(" "));
    how.push(`sudo ./install.sh --demo, or sudo apt-get install --no-install-recommends ${packages.join(" ")}`);
  }
  const modules = ["tsx", "esbuild", "commander", "execa", "fast-xml-parser", "pino"];
  if (modules.some((m) => !existsSync(join("node_modules", m, "package.json")))) {
    need.push("the npm dependencies");
    how.push("npm ci");
  }
  if (!root) how.push("run as root: sudo npm test");
  if (need.length) {
    console.error(`vnat tests need: ${need.join(", ")} (install: ${how.join("; then ")})`);
    process.exit(2);
  }
  const b = spawnSync(process.execPath, ["scripts/build.mjs"], { encoding: "utf8" });
  if (b.status !== 0) {
    console.error(`vnat tests: npm run build failed: ${(b.stderr || b.stdout).trim().split("\n")[0]}`);
    process.exit(2);
  }
}

function find(dir) {
  const out = [];
  for (const entry of readdirSync(dir)) {
    const p = join(dir, entry);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (p.endsWith(".test.ts")) out.push(p);
  }
  return out.sort();
}

checkPrerequisites();
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
console.log(
  `\ntests: ${count("pass")} passed, ${count("fail") + count("cancelled")} failed, ${count("skipped")} skipped`,
);
process.exit(r.status ?? 1);
