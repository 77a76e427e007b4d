// One linter. Layer rules keep the architecture honest (as containernetworking/plugins
// bans raw netlink outside one package): core stays pure, the hook never reaches libvirt.
import tseslint from "typescript-eslint";

const noProcesses = ["node:child_process", "execa"];
export default tseslint.config(
  { ignores: ["dist/", "node_modules/", "bench/results/"] },
  ...tseslint.configs.recommended,
  {
    files: ["src/core/**/*.ts"],
    rules: {
      "no-restricted-imports": [
        "error",
        {
          paths: [...noProcesses, "node:fs", "node:fs/promises", "pino"].map((name) => ({
            name,
            message: "src/core is pure: no files, processes or logs (put it in exec/ or adapters/).",
          })),
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
          patterns: [{ group: ["**/adapters/libvirt*"], message: "a hook must never call back into libvirt (deadlock)." }],
          paths: noProcesses.map((name) => ({ name, message: "run commands through src/exec/run.ts." })),
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
