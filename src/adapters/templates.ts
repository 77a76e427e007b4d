// Finds the network XML template users start from: next to the bundle when installed
// (PREFIX/dist/cli.js → PREFIX/xml-templates), or in a checkout when run from source.
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { invalid } from "../core/errors.ts";

export const NETWORK_TEMPLATE = "vnat-network.xml";

export async function readNetworkTemplate(path?: string): Promise<string> {
  const candidates = path
    ? [path]
    : ["../xml-templates/", "../../xml-templates/"].map((d) =>
        fileURLToPath(new URL(d + NETWORK_TEMPLATE, import.meta.url)),
      );
  for (const c of candidates) {
    const text = await readFile(c, "utf8").catch(() => undefined);
    if (text !== undefined) return text;
  }
  throw invalid(`network template: ${candidates.join(" or ")} not found (reinstall vnat, or pass --template FILE)`);
}
