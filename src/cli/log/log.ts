// `vnat log [NET]`: the hook's log as readable lines, optionally followed.
import { type Command, InvalidArgumentError } from "commander";

const count = (v: string): number => {
  if (!/^\d{1,9}$/.test(v)) throw new InvalidArgumentError("a number of lines (0 or more)");
  return Number(v);
};

export function registerLog(program: Command): void {
  program
    .command("log [network]")
    .description("show the hook's log (/var/log/vnat/hook.log) as lines: local time, network, event, outcome, message")
    .option("-f, --follow", "keep printing lines as the hook writes them (rotation included), until interrupted")
    .option("-n, --lines <n>", "only the last N lines (default: all; with --follow: 10)", count)
    .option(
      "--since <when>",
      "only lines from then on: a duration back (30s, 10m, 2h, 7d) or a local YYYY-MM-DD[ HH:MM[:SS]]",
    )
    .option("--json", "print the matching records as the hook wrote them (JSON lines)")
    .action(async (network: string | undefined, o: LogOptions) => (await import("./run.ts")).log(network, o));
}

export interface LogOptions {
  follow?: boolean;
  lines?: number;
  since?: string;
  json?: boolean;
}
