/**
 * Parsing the guest's serial log (the VNAT-* lines printed by ./init-script.ts).
 */
import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

export interface GuestLease {
  ip: string;
  router: string[];
  dns: string[];
  prefix: number | undefined;
}

export interface GuestFetch {
  seq: number;
  ok: boolean;
  /** Response body with newlines folded to spaces (ok only). */
  body: string;
}

export interface SerialState {
  booted: boolean;
  /** Every lease reported, in order (a renewal adds one). */
  leases: GuestLease[];
  leaseFailures: number;
  fetches: GuestFetch[];
  noNic: boolean;
  poweredOff: boolean;
}

const splitList = (v: string | undefined): string[] => (v ? v.split(",").filter((s) => s !== "") : []);

export function parseSerialLog(text: string): SerialState {
  const state: SerialState = {
    booted: false,
    leases: [],
    leaseFailures: 0,
    fetches: [],
    noNic: false,
    poweredOff: false,
  };
  for (const raw of text.split("\n")) {
    const line = raw.replace(/\r/g, "");
    let m: RegExpMatchArray | null;
    if (/VNAT-BOOTED\b/.test(line)) state.booted = true;
    else if (/VNAT-NO-NIC\b/.test(line)) state.noNic = true;
    else if (/VNAT-POWEROFF\b/.test(line)) state.poweredOff = true;
    else if (/VNAT-LEASE-FAIL\b/.test(line)) state.leaseFailures++;
    else if ((m = line.match(/VNAT-LEASE ((?:\w+=\S*\s*)*)/))) {
      const kv = new Map<string, string>();
      for (const pair of (m[1] ?? "").trim().split(/\s+/)) {
        const eq = pair.indexOf("=");
        if (eq > 0) kv.set(pair.slice(0, eq), pair.slice(eq + 1));
      }
      const ip = kv.get("ip");
      if (ip) {
        const prefix = kv.get("prefix");
        state.leases.push({
          ip,
          router: splitList(kv.get("router")),
          dns: splitList(kv.get("dns")),
          prefix: prefix ? Number(prefix) : undefined,
        });
      }
    } else if ((m = line.match(/VNAT-FETCH-FAIL (\d+)/))) {
      state.fetches.push({ seq: Number(m[1]), ok: false, body: "" });
    } else if ((m = line.match(/VNAT-FETCH (\d+) ?(.*)$/))) {
      state.fetches.push({
        seq: Number(m[1]),
        ok: true,
        body: (m[2] ?? "").trim(),
      });
    }
  }
  return state;
}

export async function readSerialState(logPath: string): Promise<SerialState> {
  let text = "";
  try {
    text = await readFile(logPath, "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  return parseSerialLog(text);
}

/**
 * Polls the serial log until `predicate` returns a truthy value, which is
 * returned. Throws (with the log's tail) after `timeoutMs`.
 */
export async function waitForSerial<T>(
  logPath: string,
  predicate: (state: SerialState) => T | undefined | null | false,
  opts: { timeoutMs?: number; intervalMs?: number; what?: string } = {},
): Promise<T> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = predicate(await readSerialState(logPath));
    if (result) return result;
    if (Date.now() > deadline) {
      let tail = "";
      try {
        tail = (await readFile(logPath, "utf8")).slice(-3000);
      } catch {
        tail = "(no serial log)";
      }
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${opts.what ?? "guest"} in ${logPath}; log tail:\n${tail}`,
      );
    }
    await sleep(opts.intervalMs ?? 100);
  }
}
