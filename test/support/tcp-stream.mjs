// A long-running TCP stream for "a reconcile never disturbs a healthy network" tests.
//   node tcp-stream.mjs server PORT STATUS_FILE
//   node tcp-stream.mjs client HOST PORT STATUS_FILE MAX_SECONDS
// Both sides write their counters to STATUS_FILE as JSON every 50 ms (atomically); the
// client sends 16 KiB every 5 ms and exits on its own after MAX_SECONDS. Any error or
// close is recorded, never retried: one broken stream is what the test looks for.
import { createConnection, createServer } from "node:net";
import { renameSync, writeFileSync } from "node:fs";

const [mode, ...args] = process.argv.slice(2);
const status = { bytes: 0, connections: 0, closed: 0, errors: [] };
let statusFile = "";
const save = () => {
  writeFileSync(`${statusFile}.tmp`, JSON.stringify(status));
  renameSync(`${statusFile}.tmp`, statusFile);
};

if (mode === "server") {
  const [port, file] = args;
  statusFile = file;
  createServer((sock) => {
    status.connections++;
    sock.on("data", (d) => (status.bytes += d.length));
    sock.on("error", (e) => status.errors.push(e.message));
    sock.on("close", () => status.closed++);
  }).listen(Number(port), "0.0.0.0");
  setInterval(save, 50);
} else if (mode === "client") {
  const [host, port, file, maxSeconds] = args;
  statusFile = file;
  const chunk = Buffer.alloc(16384, 120);
  const sock = createConnection({ host, port: Number(port) }, () => {
    status.connections++;
    setInterval(() => {
      if (sock.writableLength < 1 << 20) sock.write(chunk, () => (status.bytes += chunk.length));
    }, 5);
  });
  sock.on("error", (e) => status.errors.push(e.message));
  sock.on("close", () => {
    status.closed++;
    save();
    process.exit(1);
  });
  setInterval(save, 50);
  setTimeout(
    () => {
      save();
      process.exit(0);
    },
    Number(maxSeconds) * 1000,
  );
} else {
  console.error("usage: tcp-stream.mjs server PORT FILE | client HOST PORT FILE MAX_SECONDS");
  process.exit(2);
}
