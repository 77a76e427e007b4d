// A Docker network's Linux bridge (issue 19, `vnat attach NET docker:NETWORK`): asked of the
// docker CLI (`docker network inspect`), which honours DOCKER_HOST (a test's private dockerd).
// Resolved when attached and stored in the metadata beside the name: the hook runs with the
// empty environment libvirt gives it (no DOCKER_HOST) and must not wait on a daemon, so a
// start uses the stored bridge; attaching again refreshes it.
import { invalid } from "../../core/errors.ts";
import { dockerBridgeOf } from "../../core/input/segments.ts";
import { firstLine, NOT_STARTED, type Runner } from "../run.ts";

export async function resolveDockerBridge(runner: Runner, network: string): Promise<string> {
  const where = `segment docker:${network}`;
  const r = await runner.run("docker", ["network", "inspect", "--", network], { timeoutMs: 20_000 });
  if (r.exitCode === NOT_STARTED)
    throw invalid(
      `${where}: the docker command is not installed (install docker.io, or attach its bridge as bridge:BR)`,
    );
  if (r.exitCode !== 0) throw invalid(`${where}: docker network inspect failed: ${firstLine(r.stderr)}`);
  let doc: unknown;
  try {
    doc = JSON.parse(r.stdout);
  } catch {
    throw invalid(`${where}: docker network inspect printed no JSON`);
  }
  return dockerBridgeOf(where, doc);
}
