// The hostile-input corpus (test/corpus/): hookData documents that vnat must refuse at
// `start begin`, and odd-but-valid ones it must accept. Files hold placeholders so that
// unit tests (fixed names) and integration tests (a world's tagged names) share them:
//   @NAME@ @LAN_BRIDGE@ @UPLINK_BRIDGE@ @UPLINK@ @GATEWAY@ @DNS@ @FLOATING@
//   @U+XXXX@          the character U+XXXX (control characters stay out of the files)
//   @REPEAT:N:TEXT@   TEXT repeated N times (a 1 MB document stays a small file)
// and in an expected message, @N@ stands for any number (a size that depends on the name).
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const CORPUS_DIR = fileURLToPath(new URL("../corpus/", import.meta.url));

export interface CorpusVars {
  NAME: string;
  LAN_BRIDGE: string;
  UPLINK_BRIDGE: string;
  UPLINK: string;
  GATEWAY: string;
  DNS: string;
  FLOATING: string;
}

export interface CorpusItem {
  id: string;
  why: string;
  /** the NAME argument libvirt would pass */
  argv: string;
  stdin: string;
  /** refused items: the exact line on stderr, without the "vnat: " prefix */
  expect?: string;
  /** refused items: the exit code (2 invalid input) */
  exit?: number;
}

interface ManifestEntry {
  file: string;
  why: string;
  argv?: string;
  expect?: string;
  exit?: number;
}

interface Manifest {
  refused: ManifestEntry[];
  accepted: ManifestEntry[];
}

export function expand(text: string, vars: CorpusVars): string {
  return text
    .replace(/@REPEAT:(\d+):([^@]*)@/g, (_, n: string, t: string) => t.repeat(Number(n)))
    .replace(/@U\+([0-9A-Fa-f]{4,6})@/g, (_, hex: string) => String.fromCodePoint(parseInt(hex, 16)))
    .replace(/@([A-Z_]+)@/g, (m, key: string) => (key in vars ? vars[key as keyof CorpusVars] : m));
}

export function loadCorpus(kind: "refused" | "accepted", vars: CorpusVars): CorpusItem[] {
  const manifest = JSON.parse(readFileSync(`${CORPUS_DIR}/manifest.json`, "utf8")) as Manifest;
  return manifest[kind].map((e) => ({
    id: e.file.replace(/^.*\//, "").replace(/\.xml$/, ""),
    why: e.why,
    argv: expand(e.argv ?? "@NAME@", vars),
    stdin: expand(readFileSync(`${CORPUS_DIR}/${e.file}`, "utf8"), vars),
    ...(e.expect !== undefined ? { expect: expand(e.expect, vars) } : {}),
    ...(e.exit !== undefined ? { exit: e.exit } : {}),
  }));
}

/** The expected message as a whole-line pattern (@N@: any number). */
export function expectPattern(expect: string): RegExp {
  const esc = expect.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`^${esc.replace(/@N@/g, "\\d+")}$`);
}
