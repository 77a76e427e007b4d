// Where vnat's files live on this host. libvirt runs hooks with an empty environment, so
// the defaults are what production uses; tests may point them elsewhere.
import type { Roots } from "../../core/paths.ts";

export function roots(env: NodeJS.ProcessEnv = process.env): Roots {
  return {
    run: env.VNAT_RUN_DIR ?? "/run/vnat",
    config: env.VNAT_CONFIG ?? "/etc/vnat/config.json",
    log: env.VNAT_LOG_DIR ?? "/var/log/vnat",
  };
}
