// `vnat demo [--cleanup]`: vnat's main job on a sandboxed provider network.
import type { Command } from "commander";

export function registerDemo(program: Command): void {
  program
    .command("demo")
    .description("run two vnat networks on 10.0.0.0/24 against a sandboxed provider network, with a guest on each")
    .option("--cleanup", "remove everything the demo made")
    .action(async (o: { cleanup?: boolean }) => {
      const demo = await import("../demo/demo.ts");
      await (o.cleanup ? demo.cleanupDemo() : demo.runDemo());
    });
}
