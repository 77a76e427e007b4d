// The network hook libvirt runs: `NAME OP SUBOP -` with hookData XML on stdin.
// The only place the hook exits. stdout stays silent; stderr gets one line on failure.
// Start-up is on the user's critical path (every network and guest-port event), so an
// event for a network without vnat metadata returns before anything heavy is loaded.
import { readFileSync } from "node:fs";
import { oneLine, VnatError } from "../core/errors.ts";
import { AGENT_BYPASS_ENV } from "./agent-protocol.ts";
import { concernsVnat } from "./event.ts";

async function main(): Promise<number> {
  // whatever vnat and its dnsmasq create is root's alone unless a mode says otherwise
  // (adapters/store/netdir.ts: the one path dnsmasq, unprivileged, must read)
  process.umask(0o077);
  let stdin = "";
  try {
    stdin = readFileSync(0, "utf8");
  } catch {
    /* no stdin */
  }
  if (process.argv[2] === "--agent") return serveAgent();
  const argv = process.argv.slice(2);
  if (!concernsVnat(argv, stdin)) return 0;

  const [{ runEvent }, { roots }, { openLog }, { processRunner }] = await Promise.all([
    import("./handlers.ts"),
    import("../adapters/store/roots.ts"),
    import("../adapters/log/log.ts"),
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
    await runEvent(argv, stdin, env);
    return 0;
  } catch (e) {
    log.error({ network: argv[0], op: argv[1], subop: argv[2], err: e }, "hook failed");
    throw e;
  } finally {
    // the next event of any network is handed to a warm agent (hook/agent.ts); a hook run with
    // test overrides never starts one (the shell hands such events only to Node)
    if (agentWanted(process.env)) (await import("./agent.ts")).ensureAgent(r);
  }
}

/** The shell hook uses the agent only where libvirt's own environment holds (hooks/network, to_agent). */
function agentWanted(env: NodeJS.ProcessEnv): boolean {
  return !AGENT_BYPASS_ENV.some((k) => env[k]);
}

async function serveAgent(): Promise<number> {
  const [{ runAgent }, { roots }, { openLog }, { processRunner }] = await Promise.all([
    import("./agent.ts"),
    import("../adapters/store/roots.ts"),
    import("../adapters/log/log.ts"),
    import("../exec/run.ts"),
  ]);
  const r = roots();
  await runAgent(r, { runner: processRunner, roots: r, log: await openLog(r.log, "hook") });
  return 0;
}

main().then(
  (code) => process.exit(code),
  (e: unknown) => {
    process.stderr.write(`vnat: ${oneLine(e)}\n`);
    process.exit(e instanceof VnatError ? e.exitCode : 1);
  },
);
