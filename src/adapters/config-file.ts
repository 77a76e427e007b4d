// Reads vnat's config file; a missing file is an empty config (metadata may say it all).
import { EMPTY_CONFIG, parseConfig, type Config } from "../core/config.ts";
import { readIfExists } from "./files.ts";

export async function loadConfig(path: string): Promise<Config> {
  const text = await readIfExists(path);
  return text === undefined ? EMPTY_CONFIG : parseConfig(path, text);
}
