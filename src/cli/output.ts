// Writes to stdout and waits until it is handed to the kernel: main.ts exits right after a
// command returns, and a pipe whose reader is slower than us would otherwise lose the tail
// of a large document (a 219 kB `status --json` was cut short, measured).
export function writeOut(text: string): Promise<void> {
  return new Promise((resolve, reject) => process.stdout.write(text, (e) => (e ? reject(e) : resolve())));
}
