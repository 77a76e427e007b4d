// Structured logs go to a file through pino, never to the hook's stdout (libvirt reads
// it) and never to stderr (which carries only the one-line error the user sees).
import { mkdirSync } from "node:fs";
import type { Logger } from "pino";

export async function openLog(dir: string, name: string): Promise<Logger> {
  const { pino } = await import("pino");
  try {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    return pino(
      { base: { name } },
      pino.destination({ dest: `${dir}/${name}.log`, sync: true, mkdir: true, mode: 0o600 }),
    );
  } catch {
    return pino({ enabled: false });
  }
}
