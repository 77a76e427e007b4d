// What the shell hook sends the agent (hooks/network, to_agent): one header line
// "NAME OP SUBOP KEY CONFIGHASH" ("-" for an absent key), then libvirt's hook data as it came.
// The agent answers one line: "0", or "CODE MESSAGE" (the hook's exit code and its one-line error).
import { invalid } from "../core/errors.ts";
import { HASH_RE } from "../core/hookcache.ts";

/**
 * Test overrides that keep an event away from the agent (which runs with libvirt's own
 * environment): with any of them set, the shell hook (to_agent) and the hook's Node run the
 * event themselves and start no agent. The contract test holds hooks/network to this list.
 */
export const AGENT_BYPASS_ENV = [
  "VNAT_CONFIG",
  "VNAT_LOG_DIR",
  "VNAT_FAILPOINT",
  "VNAT_HOST_NETNS",
  "VNAT_BRIDGE_NF_CALL_IPTABLES",
  "VNAT_NO_AGENT",
] as const;

export interface AgentRequest {
  name: string;
  op: string;
  subop: string;
  cacheKey?: { key: string; configHash: string };
  data: string;
}

export function parseAgentRequest(text: string): AgentRequest {
  const nl = text.indexOf("\n");
  const header = (nl < 0 ? text : text.slice(0, nl)).split(" ");
  if (header.length !== 5)
    throw invalid(`agent request: expected "NAME OP SUBOP KEY CONFIGHASH", got ${header.length} field(s)`);
  const [name, op, subop, key, configHash] = header as [string, string, string, string, string];
  const cacheKey = HASH_RE.test(key) && configHash !== "-" ? { key, configHash } : undefined;
  return { name, op, subop, data: nl < 0 ? "" : text.slice(nl + 1), ...(cacheKey ? { cacheKey } : {}) };
}
