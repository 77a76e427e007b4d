// Which libvirt vnat talks to. vnat builds each network's namespace on THIS host, from the
// hook of the system (root) libvirt daemon, so only a local system URI can work: a remote
// one would start networks on another host, a session daemon runs no root hooks.
// Precedence: -c/--connect > VNAT_LIBVIRT_URI > LIBVIRT_DEFAULT_URI > qemu:///system.
import { invalid } from "../errors.ts";
import { printable } from "../names.ts";

export const SYSTEM_URI = "qemu:///system";
/** The URIs that reach this host's system libvirt daemon. */
export const ALLOWED_URIS: readonly string[] = [SYSTEM_URI, "qemu+unix:///system"];

export interface UriSources {
  /** -c/--connect */
  connect?: string | undefined;
  /** VNAT_LIBVIRT_URI */
  vnatEnv?: string | undefined;
  /** LIBVIRT_DEFAULT_URI */
  defaultEnv?: string | undefined;
}

/** The URI to run virsh with; refuses, in one line naming it and where it came from, any other. */
export function libvirtUri(s: UriSources): string {
  const given: Array<[string | undefined, string]> = [
    [s.connect, "-c/--connect"],
    [s.vnatEnv, "VNAT_LIBVIRT_URI"],
    [s.defaultEnv, "LIBVIRT_DEFAULT_URI"],
  ];
  // an empty variable counts as unset, as libvirt's own tools take it (an empty -c is refused)
  const [uri, from] = given.find(([v, f]) => v !== undefined && (v !== "" || f === "-c/--connect")) ?? [
    SYSTEM_URI,
    "default",
  ];
  if (!ALLOWED_URIS.includes(uri!))
    throw invalid(
      `libvirt URI "${printable(uri!)}" (${from}): vnat works only with this host's system libvirt (${ALLOWED_URIS.join(" or ")})`,
    );
  return uri!;
}
