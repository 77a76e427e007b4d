import { VnatError } from "../core/errors.ts";

/** Commands that look inside network namespaces need root; say so instead of failing obscurely. */
export function requireRoot(command: string): void {
  if (process.getuid?.() !== 0)
    throw new VnatError("needs-root", `${command}: needs root (it reads network namespaces and /run/vnat)`);
}
