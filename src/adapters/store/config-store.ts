// Changes to vnat's config file: read, change, validate, write atomically, all under the
// config's lock (PATH.lock), so concurrent `vnat provider add/remove` never lose an update
// and a reader never sees half a file.
import { parseConfig, type ConfigFile } from "../../core/input/config.ts";
import { readIfExists, writeAtomic } from "./files.ts";
import { withLock } from "./lock.ts";

export const configLockPath = (path: string): string => `${path}.lock`;

export async function readConfigFile(path: string): Promise<ConfigFile> {
  const text = await readIfExists(path);
  if (text === undefined) return { providers: [] };
  parseConfig(path, text); // one-line error for a broken file before anything changes it
  return JSON.parse(text) as ConfigFile;
}

/** Applies CHANGE to the file's contents and writes the result, once it validates. */
export async function updateConfigFile(path: string, change: (file: ConfigFile) => ConfigFile): Promise<ConfigFile> {
  return withLock(
    configLockPath(path),
    async () => {
      const next = change(await readConfigFile(path));
      const text = JSON.stringify(next, null, 2) + "\n";
      parseConfig(path, text);
      await writeAtomic(path, text, 0o644);
      return next;
    },
    { what: `config ${path}` },
  );
}
