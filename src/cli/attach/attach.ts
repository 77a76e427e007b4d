// `vnat attach NET SEGMENT` / `vnat detach NET SEGMENT` (issue 19): other bridges, taps and
// Docker networks on a vnat network's LAN (docs/segments.md).
import type { Command } from "commander";
import { changeOptions, type OutputFlags } from "../output.ts";

const impl = () => import("./actions.ts");

const SEGMENT_HELP = "bridge:BRIDGE, tap:DEVICE or docker:NETWORK";

export function registerAttach(program: Command): void {
  changeOptions(
    program
      .command("attach <net> <segment>")
      .description(`patch a segment into a vnat network's LAN (${SEGMENT_HELP}); live when the network is active`)
      .option("--take-addresses", "take the bridge's own host addresses off while attached (put back at detach/stop)"),
  ).action(async (net: string, segment: string, o: OutputFlags & { takeAddresses?: boolean }) =>
    (await impl()).attachSegment(net, segment, o),
  );
  changeOptions(
    program
      .command("detach <net> <segment>")
      .description(`take a segment off a vnat network's LAN (${SEGMENT_HELP}), leaving it as it was`),
  ).action(async (net: string, segment: string, o: OutputFlags) => (await impl()).detachSegment(net, segment, o));
}
