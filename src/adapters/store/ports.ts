// Guest ports libvirt reports (port-created / port-deleted), kept for `vnat status`.
// port-created repeats for every running guest when the daemon restarts: writing the
// same file again is harmless.
import { readdir, unlink } from "node:fs/promises";
import type { HookPort } from "../../core/input/hookdata.ts";
import { readIfExists, writeAtomic } from "./files.ts";

const PORT_ID = /^[0-9a-fA-F-]{1,64}$/;

function portFile(dir: string, port: HookPort): string | undefined {
  const id = port.uuid ?? port.mac?.replace(/:/g, "-");
  return id && PORT_ID.test(id) ? `${dir}/${id}.json` : undefined;
}

export async function recordPort(dir: string, port: HookPort): Promise<void> {
  const file = portFile(dir, port);
  if (file) await writeAtomic(file, JSON.stringify(port) + "\n");
}

export async function removePort(dir: string, port: HookPort): Promise<void> {
  const file = portFile(dir, port);
  if (file) await unlink(file).catch(() => {});
}

export async function listPorts(dir: string): Promise<HookPort[]> {
  let files: string[] = [];
  try {
    files = await readdir(dir);
  } catch {
    return [];
  }
  const ports: HookPort[] = [];
  for (const f of files.filter((f) => f.endsWith(".json"))) {
    const text = await readIfExists(`${dir}/${f}`);
    if (text) ports.push(JSON.parse(text) as HookPort);
  }
  return ports;
}
