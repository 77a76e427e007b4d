// The "internet" web server of `vnat demo` and of the test world: answers every request with the client's
// source address (as this host saw it, i.e. after any NAT) and appends that address to
// a log file, one JSON line per request, so tests can check which sources reached it.
//
// usage: node http-echo-server.mjs LOG_FILE [PORT] [HOST]
// Prints "listening HOST:PORT" on stdout once it accepts connections.
import { appendFileSync } from "node:fs";
import { createServer } from "node:http";

const [logFile, port = "80", host = "0.0.0.0"] = process.argv.slice(2);
if (!logFile) {
  console.error("usage: http-echo-server.mjs LOG_FILE [PORT] [HOST]");
  process.exit(2);
}

const server = createServer((req, res) => {
  const source = (req.socket.remoteAddress ?? "").replace(/^::ffff:/, "");
  // Logged before answering, so a client that got its body finds its source in the log.
  appendFileSync(logFile, JSON.stringify({ source, method: req.method, url: req.url, host: req.headers.host }) + "\n");
  const body = source + "\n";
  res.writeHead(200, { "content-type": "text/plain", "content-length": Buffer.byteLength(body), connection: "close" });
  res.end(body);
});

server.on("error", (err) => {
  console.error(`http-echo-server: ${err.message}`);
  process.exit(1);
});
server.listen(Number(port), host, () => console.log(`listening ${host}:${port}`));

for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => process.exit(0));
