// One linter. Layer rules keep the architecture honest (as containernetworking/plugins
// bans raw netlink outside one package): core stays pure, only the runner (src/exec/run.ts)
// starts or signals processes, the hook never reaches libvirt.
import tseslint from "typescript-eslint";

const RUNNER = "src/exec/run.ts";
const noProcesses = ["node:child_process", "child_process", "execa"].map((name) => ({
  name,
  message: `only ${RUNNER} starts processes: use its Runner, spawnDetached or runAttached.`,
}));
const noKill = {
  object: "process",
  property: "kill",
  message: `only ${RUNNER} signals processes: use its signal(pid, sig).`,
};
const pure = "src/core is pure: no files, processes, logs or I/O layers (put it in exec/ or adapters/).";

export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "bench/results/"] },
  ...tseslint.configs.recommended,
  {
    files: ["src/**/*.ts"],
    ignores: [RUNNER],
    rules: {
      "no-restricted-imports": ["error", { paths: noProcesses }],
      "no-restricted-properties": ["error", noKill],
    },
  },
  {
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [
            ...noProcesses,
            ...["node:fs", "node:fs/promises", "fs", "fs/promises", "pino"].map((name) => ({ name, message: pure })),
          ],
          patterns: [
            {
              group: ["**/exec/**", "**/adapters/**", "**/cli/**", "**/hook/**", "**/sandbox/**", "**/demo/**"],
              message: pure,
            },
          ],
        },
      ],
    },
  },
  {
    files: ["src/hook/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["**/adapters/libvirt/**", "**/adapters/libvirt*"],
              message: "a hook must never call back into libvirt (deadlock).",
            },
          ],
          paths: noProcesses,
        },
      ],
    },
  },
  {
    // the product never ships test code (the test world lives in test/support, issue 14.5); a
    // rule of its own name, so the layer rules above (no-restricted-imports) keep theirs
    files: ["src/**/*.ts"],
    rules: {
      "@typescript-eslint/no-restricted-imports": [
        "error",
        {
          patterns: [
            {
              group: ["**/test/**", "**/bench/**", "**/scripts/**"],
              message: "src/ never imports test, bench or script code.",
            },
          ],
        },
      ],
    },
  },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_" }],
    },
  },
);
