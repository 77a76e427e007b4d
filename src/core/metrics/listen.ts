// The exporter's --listen ADDRESS:PORT. Pure. Loopback is the default: the metrics name
// every network, uplink and forward on the host, which is no one else's business unless
// the operator says so.
import { invalid } from "../errors.ts";

export const DEFAULT_LISTEN = "127.0.0.1:9745";

export interface Listen {
  host: string;
  port: number;
}

const IPV4 = /^(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;
const IPV6 = /^[0-9A-Fa-f:.]{2,45}$/;

/** `A.B.C.D:PORT` or `[IPV6]:PORT`; anything else is one line saying what is allowed. */
export function parseListen(text: string): Listen {
  const bad = (): Error =>
    invalid(
      `--listen ${JSON.stringify(text.slice(0, 64))}: expected ADDRESS:PORT, an IPv4 address or [IPv6 address] and a port 1-65535 (default ${DEFAULT_LISTEN})`,
    );
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):(\d{1,5})$/.exec(text);
  if (!m) throw bad();
  const host = m[1] ?? m[2]!;
  const port = Number(m[3]);
  if (port < 1 || port > 65535) throw bad();
  if (m[1] !== undefined ? !IPV6.test(host) || !host.includes(":") : !IPV4.test(host)) throw bad();
  return { host, port };
}

/** Whether HOST is a loopback address (the exporter warns when it is not). */
export const isLoopback = (host: string): boolean => /^127\./.test(host) || host === "::1";
