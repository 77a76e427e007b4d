// Helpers for the inbound tests: servers in guests, clients in the internet namespace,
// conntrack and address probes inside a vnat namespace. Argument arrays only.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { EMPTY_CONFIG } from "../../src/core/input/config.ts";
import { parseHookData } from "../../src/core/input/hookdata.ts";
import { buildSpec, type NetSpec } from "../../src/core/input/spec.ts";
import { hookData, type NetOpts } from "./fixtures.ts";
import { nsExec, run, waitFor, type ShResult } from "./sh.ts";
import type { Guest, World } from "./world.ts";

const ECHO_SCRIPT = fileURLToPath(new URL("../../src/demo/http-echo-server.mjs", import.meta.url));

export const specOf = (o: NetOpts): NetSpec => buildSpec(parseHookData(hookData(o)).network, EMPTY_CONFIG);

/** An HTTP server in the guest answering with the client's source; returns its request log. */
export async function startEcho(w: World, g: Guest, port: number): Promise<string> {
  const log = join(w.tmpDir, `${g.ns}-${port}.jsonl`);
  await writeFile(log, "");
  const p = await w.startProcess(g.ns, `echo-${g.ns}-${port}`, process.execPath, [
    ECHO_SCRIPT,
    log,
    String(port),
    "0.0.0.0",
  ]);
  await waitFor(
    async () => (await readFile(p.logFile, "utf8")).includes("listening"),
    5000,
    `echo server ${g.ns}:${port}`,
  );
  return log;
}

export async function sources(log: string): Promise<string[]> {
  const text = await readFile(log, "utf8");
  return text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => (JSON.parse(l) as { source: string }).source);
}

/** busybox wget inside NS (`timeout`, not wget -T, which segfaults in busybox 1.35). */
export function fetchIn(ns: string, url: string, timeoutSec = 5): Promise<ShResult> {
  return nsExec(ns, "timeout", [String(timeoutSec), "busybox", "wget", "-q", "-Y", "off", "-O", "-", url]);
}

/** Conntrack entries in NS whose original destination port is PORT. */
export async function conntrackTo(ns: string, proto: string, port: number): Promise<string[]> {
  const r = await nsExec(ns, "conntrack", ["-L", "-p", proto, "--orig-port-dst", String(port)]);
  return r.stdout.split("\n").filter((l) => l.trim());
}

/** Conntrack entries in NS with IP as original destination or as reply destination (SNAT). */
export async function conntrackAddr(ns: string, ip: string): Promise<string[]> {
  const lists = await Promise.all(
    [
      ["--orig-dst", ip],
      ["--reply-dst", ip],
    ].map((f) => nsExec(ns, "conntrack", ["-L", ...f])),
  );
  return lists.flatMap((r) => r.stdout.split("\n").filter((l) => l.trim()));
}

export async function wanAddresses(ns: string): Promise<string[]> {
  const r = await run("ip", ["-n", ns, "-4", "-j", "addr", "show", "dev", "wan0"]);
  const rows = JSON.parse(r.stdout) as Array<{ addr_info: Array<{ local: string; prefixlen: number }> }>;
  return rows.flatMap((x) => x.addr_info.map((a) => `${a.local}/${a.prefixlen}`));
}

/** A TCP echo server (node) in the guest on PORT. */
export async function startTcpEcho(w: World, g: Guest, port: number): Promise<void> {
  const script = `require("net").createServer((s) => s.pipe(s)).listen(${port}, () => console.log("listening"))`;
  const p = await w.startProcess(g.ns, `tcpecho-${g.ns}-${port}`, process.execPath, ["-e", script]);
  await waitFor(
    async () => (await readFile(p.logFile, "utf8")).includes("listening"),
    5000,
    `tcp echo ${g.ns}:${port}`,
  );
}

/** A UDP echo server (node) in the guest on each of PORTS, answering "PORT:MESSAGE". */
export async function startUdpEcho(w: World, g: Guest, ports: number[]): Promise<void> {
  const script = `const d = require("dgram"); for (const p of ${JSON.stringify(ports)}) { const s = d.createSocket("udp4"); s.on("message", (m, r) => s.send(p + ":" + m, r.port, r.address)); s.bind(p); } console.log("listening");`;
  const p = await w.startProcess(g.ns, `udpecho-${g.ns}`, process.execPath, ["-e", script]);
  await waitFor(async () => (await readFile(p.logFile, "utf8")).includes("listening"), 5000, `udp echo in ${g.ns}`);
}

/** One UDP question from NS to HOST:PORT; the answer, or "" after a second of silence. */
export async function udpAsk(ns: string, host: string, port: number, msg: string): Promise<string> {
  const script = `const s = require("dgram").createSocket("udp4"); s.on("message", (m) => { process.stdout.write(String(m)); process.exit(0); }); s.send("${msg}", ${port}, "${host}"); setTimeout(() => process.exit(1), 1000);`;
  return (await nsExec(ns, process.execPath, ["-e", script])).stdout;
}

/** A long-lived TCP connection from NS: write a line, wait for its echo. Kill with .close(). */
export class TcpClient {
  private out = "";
  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on("data", (b: Buffer) => (this.out += b.toString()));
    child.on("error", () => undefined);
  }

  static open(ns: string, host: string, port: number): TcpClient {
    const script = `const s = require("net").connect(${port}, "${host}"); process.stdin.pipe(s); s.pipe(process.stdout); s.on("close", () => process.exit(3));`;
    return new TcpClient(spawn("ip", ["netns", "exec", ns, process.execPath, "-e", script]));
  }

  async roundTrip(line: string, timeoutMs = 5000): Promise<void> {
    this.child.stdin.write(line + "\n");
    await waitFor(() => this.out.includes(line + "\n"), timeoutMs, `echo of "${line}"`);
  }

  close(): void {
    if (this.child.exitCode === null && this.child.pid !== undefined) this.child.kill("SIGKILL");
  }
}

/** /etc/netns/NS/resolv.conf for a vnat namespace, before anything runs in it. */
export async function netnsResolvConf(ns: string): Promise<() => Promise<void>> {
  const dir = join("/etc/netns", ns);
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, "resolv.conf"), "# vnat test namespace: no resolver\n");
  return () => rm(dir, { recursive: true, force: true });
}
