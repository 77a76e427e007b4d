// `vnat completion bash|zsh`: a completion script generated from the command tree, and
// the hidden `vnat manpage` (roff) that scripts/build.mjs runs to write dist/vnat.1.
import { Argument, type Command } from "commander";
import { writeOut } from "../output.ts";

const root = (cmd: Command): Command => {
  let c = cmd;
  while (c.parent) c = c.parent;
  return c;
};

export function registerCompletion(program: Command): void {
  program
    .command("completion")
    .description(
      "print a shell completion script (bash: /usr/share/bash-completion/completions/vnat, installed by install.sh; zsh: save as _vnat in $fpath)",
    )
    .addArgument(new Argument("<shell>", "bash or zsh").choices(["bash", "zsh"]))
    .action(async (shell: string, _o: unknown, cmd: Command) => {
      const gen = await import("./docgen.ts");
      await writeOut(shell === "bash" ? gen.bashCompletion(root(cmd)) : gen.zshCompletion(root(cmd)));
    });
  program
    .command("manpage", { hidden: true })
    .description("print the man page (roff); the build writes it to dist/vnat.1")
    .action(async (_o: unknown, cmd: Command) => {
      const [gen, { VERSION }, { MAN_TEXT }] = await Promise.all([
        import("./docgen.ts"),
        import("../program.ts"),
        import("./man-text.ts"),
      ]);
      await writeOut(gen.manPage(root(cmd), VERSION, MAN_TEXT));
    });
}
