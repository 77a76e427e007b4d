// The network hook libvirt runs: `NAME OP SUBOP -` with hookData XML on stdin.
// The only place the hook exits. stdout stays silent; stderr gets one line on failure.
// Start-up is on the user's critical path (every network and guest-port event), so an
// event for a network without vnat metadata returns before anything heavy is loaded.
import { readFileSync } from "node:fs";
import { oneLine, VnatError } from "../core/errors.ts";
import { mentionsVnat } from "../core/hookdata.ts";
import { parseArgv } from "./event.ts";

async function main(): Promise<number> {
  // whatever vnat and its dnsmasq create is root's alone unless a mode says otherwise
  // (adapters/netdir.ts: the one path dnsmasq, unprivileged, must read)
  process.umask(0o077);
  let stdin = "";
  try {
    stdin = readFileSync(0, "utf8");
  } catch {
    /* no stdin */
  }
  const call = parseArgv(process.argv.slice(2));
  if (call.event === "other" || call.event === "updated") return 0;
  if (!mentionsVnat(stdin)) return 0;

  const [{ handle, parseHookData }, { roots }, { openLog }, { processRunner }] = await Promise.all([
    import("./handlers.ts"),
    import("../adapters/roots.ts"),
    import("../adapters/log.ts"),
    import("../exec/run.ts"),
  ]);
  const r = roots();
  const log = await openLog(r.log, "hook");
  const { VNAT_HOOK_KEY: key, VNAT_HOOK_CONFIG: configHash, VNAT_FAILPOINT: failpoint } = process.env;
  const env = {
    runner: processRunner,
    roots: r,
    log,
    ...(failpoint ? { failpoint } : {}),
    ...(key && configHash ? { cacheKey: { key, configHash } } : {}),
  };
  try {
    await handle(call, parseHookData(stdin), env);
    return 0;
  } catch (e) {
    log.error({ network: call.name, op: call.op, subop: call.subop, err: e }, "hook failed");
    throw e;
  }
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`vnat: ${oneLine(e)}\n`);
    process.exit(e instanceof VnatError ? e.exitCode : 1);
  },
);
