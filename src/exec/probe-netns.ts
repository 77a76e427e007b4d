// One process per namespace: `ip -n NS -j -batch -` lists links, addresses and the default
// route, then forks `nft list ruleset` inside the same namespace (ip flushes its output
// before the fork, so the order holds). Measured: ~7 ms of CPU per namespace.
import { NETNS_PROBE_LINES, parseNetnsProbe, type NetnsView } from "../core/netns-view.ts";
import { firstLine, type Runner } from "./run.ts";

export async function probeNetns(runner: Runner, netns: string): Promise<NetnsView> {
  const lines = [...NETNS_PROBE_LINES, `netns exec ${netns} nft list ruleset`];
  const r = await runner.run("ip", ["-n", netns, "-j", "-batch", "-"], {
    input: lines.join("\n") + "\n",
    timeoutMs: 10_000,
  });
  if (r.exitCode !== 0) throw new Error(`probe namespace ${netns}: ${firstLine(r.stderr)}`);
  return parseNetnsProbe(r.stdout);
}

/** Runs FN over ITEMS with at most LIMIT at a time; results in input order. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

export type Limiter = <T>(fn: () => Promise<T>) => Promise<T>;

/** Runs at most N of the functions handed to it at a time, in the order they came. */
export function limiter(n: number): Limiter {
  let running = 0;
  const queue: Array<() => void> = [];
  const next = (): void => {
    if (running >= n) return;
    const start = queue.shift();
    if (start) {
      running++;
      start();
    }
  };
  return <T>(fn: () => Promise<T>) =>
    new Promise<T>((resolve, reject) => {
      queue.push(() =>
        fn()
          .then(resolve, reject)
          .finally(() => {
            running--;
            next();
          }),
      );
      next();
    });
}
