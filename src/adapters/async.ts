// Small async helpers every I/O layer shares: waiting, and running many tasks a few at a time
// (probing a hundred namespaces must not start a hundred processes at once).

/** Resolves after MS milliseconds. */
export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

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
