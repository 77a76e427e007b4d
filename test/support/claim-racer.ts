// One contender of test/integration/claims-race.test.ts, in its own process, as a hook's
// `started` would be: it holds its own network's lock and claims an uplink with the real
// liveness check. Usage: node --import tsx claim-racer.ts NAME BRIDGE IP
// Commands on stdin, one a line, each answered on stdout with one line:
//   lock RUNDIR   take NAME's lock in roots {run: RUNDIR}   → "locked"
//   go            claimUplink(BRIDGE, IP, NAME)              → "won" | "lost: MESSAGE"
//   release       release the lock                           → "released"
// The process exits when stdin closes (a winner keeps its lock until then).
import { createInterface } from "node:readline";
import { claimUplink } from "../../src/adapters/store/state.ts";
import type { Roots } from "../../src/core/paths.ts";
import { lockNetwork, type NetLock } from "../../src/exec/netlock.ts";

const [name, bridge, ip] = process.argv.slice(2) as [string, string, string];
let roots: Roots | undefined;
let lock: NetLock | undefined;

for await (const line of createInterface({ input: process.stdin })) {
  const [cmd, arg] = line.split(" ");
  if (cmd === "lock") {
    roots = { run: arg!, config: "/nonexistent", log: arg! };
    lock = await lockNetwork(roots, name);
    console.log("locked");
  } else if (cmd === "go") {
    try {
      await claimUplink(roots!, bridge, ip, name);
      console.log("won");
    } catch (e) {
      console.log(`lost: ${(e as Error).message}`);
    }
  } else if (cmd === "release") {
    await lock?.release();
    lock = undefined;
    console.log("released");
  }
}
await lock?.release();
