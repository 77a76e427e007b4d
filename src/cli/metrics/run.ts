// Runs `vnat metrics`: one collection, printed or written for node_exporter's textfile
// collector (a temp file in DIR, then rename(2), so the collector never reads half a file).
import { chmod, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readLibvirtNetworks } from "../../adapters/libvirt/view.ts";
import { loadConfig } from "../../adapters/store/config-file.ts";
import { roots } from "../../adapters/store/roots.ts";
import { invalid } from "../../core/errors.ts";
import { collectMetrics } from "../../exec/probe/metrics.ts";
import { processRunner } from "../../exec/run.ts";
import { writeOut } from "../output.ts";
import { requireRoot } from "../root.ts";

export const TEXTFILE_NAME = "vnat.prom";

export async function metrics(o: { textfile?: string }): Promise<void> {
  requireRoot("metrics");
  const dir = o.textfile;
  if (dir !== undefined) {
    const st = await stat(dir).catch(() => undefined);
    if (!st?.isDirectory())
      throw invalid(
        `--textfile ${JSON.stringify(dir)}: not a directory (node_exporter's --collector.textfile.directory)`,
      );
  }
  const r = roots();
  const networks = readLibvirtNetworks();
  networks.catch(() => {});
  const text = await collectMetrics({ runner: processRunner, roots: r, config: await loadConfig(r.config), networks });
  if (dir === undefined) return writeOut(text);
  const path = join(dir, TEXTFILE_NAME);
  // node_exporter's collector ignores files that do not end in .prom: the temp file does not
  const tmp = join(dir, `.${TEXTFILE_NAME}.${process.pid}.tmp`);
  try {
    await writeFile(tmp, text, { mode: 0o644 });
    await chmod(tmp, 0o644);
    await rename(tmp, path);
  } catch (e) {
    await rm(tmp, { force: true });
    throw invalid(`--textfile ${JSON.stringify(dir)}: cannot write ${TEXTFILE_NAME}: ${(e as Error).message}`);
  }
}
