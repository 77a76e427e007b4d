// Bundles each entry point into one ESM file: the hook runs on every libvirt network
// and guest-port event, so its cold start (one file, no module resolution) matters.
import { build } from "esbuild";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmod, copyFile, readFile, writeFile } from "node:fs/promises";

const banner = {
  js: [
    "#!/usr/bin/env node",
    'import { createRequire as __vnatCreateRequire } from "node:module";',
    "const require = __vnatCreateRequire(import.meta.url);",
  ].join("\n"),
};

// exporter: the long-running `vnat exporter` (src/cli/exporter/main.ts) without the rest of the
// CLI (commander, the logger, every other command): a smaller resident process
const entries = { hook: "src/hook/main.ts", cli: "src/cli/main.ts", exporter: "src/cli/exporter/main.ts" };
for (const [name, entry] of Object.entries(entries)) {
  await build({
    entryPoints: [entry],
    outfile: `dist/${name}.js`,
    bundle: true,
    platform: "node",
    target: "node20",
    format: "esm",
    banner,
    splitting: false,
    minify: false,
    sourcemap: false,
    logLevel: "warning",
  });
  await chmod(`dist/${name}.js`, 0o755);
}
// `vnat demo` (src/demo, bundled into the CLI) runs these two files by path, next to the
// module: in a bundle that is dist/.
for (const f of ["http-echo-server.mjs", "udhcpc-script.sh"]) await copyFile(`src/demo/${f}`, `dist/${f}`);
await chmod("dist/udhcpc-script.sh", 0o755);
// The shell hook's fast path keys what vnat has validated by this id (src/core/hookcache.ts):
// a new bundle never trusts an answer an older one gave.
const id = createHash("sha256")
  .update(await readFile("dist/hook.js"))
  .digest("hex");
await writeFile("dist/build-id", `${id}\n`);
// The man page and the bash completion come from the CLI's own command definitions
// (src/cli/docs/docgen.ts), so they list exactly the commands and options this build has;
// install.sh installs both.
const cli = (...args) => execFileSync(process.execPath, ["dist/cli.js", ...args], { encoding: "utf8" });
await writeFile("dist/vnat.1", cli("manpage"));
await writeFile("dist/vnat.bash", cli("completion", "bash"));
