// Reads vnat's config file; a missing file is an empty config (metadata may say it all).
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { EMPTY_CONFIG, parseConfig, type Config } from "../../core/input/config.ts";
import { invalid } from "../../core/errors.ts";

export async function loadConfig(path: string): Promise<Config> {
  return (await loadConfigHashed(path)).config;
}

/**
 * The config and the sha256 of the very bytes it was parsed from, as sha256sum prints it
 * ("none" when there is no file): what the shell hook's fast path keys answers by.
 */
export async function loadConfigHashed(path: string): Promise<{ config: Config; hash: string }> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === "ENOENT") return { config: EMPTY_CONFIG, hash: "none" };
    throw invalid(`config ${path}: cannot be read (${code ?? (e as Error).message}); fix it or remove it`);
  }
  return { config: parseConfig(path, bytes.toString("utf8")), hash: createHash("sha256").update(bytes).digest("hex") };
}
