// New TCP connections, as fast as they go, for the forwards benchmark (bench/forwards.ts).
//   node connect-rate.mjs server PORT
//     accepts and forgets connections; prints "listening" once it listens
//   node connect-rate.mjs client HOST PORT SECONDS IN_FLIGHT
//     keeps IN_FLIGHT connections being opened for SECONDS; each is reset (RST) as soon as
//     it is established, so no TIME_WAIT piles up on either side. Prints JSON
//     {"connections": N, "errors": N, "seconds": S}.
import { connect, createServer } from "node:net";

const [mode, ...args] = process.argv.slice(2);

if (mode === "server") {
  const server = createServer((sock) => sock.on("error", () => undefined));
  server.listen(Number(args[0]), "0.0.0.0", () => console.log("listening"));
} else if (mode === "client") {
  const [host, port, seconds, inFlight] = args;
  const t0 = performance.now();
  const end = t0 + Number(seconds) * 1000;
  let connections = 0;
  let errors = 0;
  let running = Number(inFlight);
  const one = () => {
    if (performance.now() >= end) {
      if (--running === 0)
        console.log(JSON.stringify({ connections, errors, seconds: (performance.now() - t0) / 1000 }));
      return;
    }
    let settled = false;
    const s = connect({ host, port: Number(port) });
    const next = (ok) => {
      if (settled) return;
      settled = true;
      if (ok) connections++;
      else errors++;
      s.resetAndDestroy();
      one();
    };
    s.once("connect", () => next(true));
    s.on("error", () => next(false));
    s.setTimeout(3000, () => next(false));
  };
  for (let i = 0; i < running; i++) one();
} else {
  console.error("usage: connect-rate.mjs server PORT | client HOST PORT SECONDS IN_FLIGHT");
  process.exit(2);
}
