// Helpers for tests of src/cli: a command group registered on a fresh commander tree, the
// vnat CLI from source (src/cli/main.ts, not the bundle), and TypeScript run in a child
// process (for code that writes to this process's stdout or exits).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Command, type Option } from "commander";

export const REPO = fileURLToPath(new URL("../../", import.meta.url));

export interface Ran {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** vnat from source, with ENV added to this process's environment */
export function vnat(args: string[], env: NodeJS.ProcessEnv = {}, input?: string): Ran {
  const r = spawnSync(process.execPath, ["--import", "tsx", `${REPO}src/cli/main.ts`, ...args], {
    encoding: "utf8",
    cwd: REPO,
    env: { ...process.env, ...env },
    timeout: 120_000,
    ...(input === undefined ? {} : { input }),
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** CODE (an ES module body; import with paths relative to the repository) run in a child */
export function runTs(code: string, env: NodeJS.ProcessEnv = {}, uid?: number): Ran {
  const r = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", code], {
    encoding: "utf8",
    cwd: REPO,
    env: { ...process.env, ...env },
    timeout: 120_000,
    ...(uid === undefined ? {} : { uid, gid: uid }),
  });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** a fresh tree with one group registered, parse errors thrown rather than exiting */
export function registered(register: (p: Command) => void): Command {
  const p = new Command("vnat").exitOverride().configureOutput({ writeOut: () => {}, writeErr: () => {} });
  register(p);
  return p;
}

/** the subcommand at PATH ("net create") */
export function sub(p: Command, path: string): Command {
  let c = p;
  for (const name of path.split(" ")) {
    const next = c.commands.find((x) => x.name() === name);
    if (!next) throw new Error(`no command "${path}"`);
    c = next;
  }
  return c;
}

/** a command's arguments as commander's usage shows them: <a>, [b], <c...> */
export const argsOf = (c: Command): string[] =>
  c.registeredArguments.map((a) => {
    const n = `${a.name()}${a.variadic ? "..." : ""}`;
    return a.required ? `<${n}>` : `[${n}]`;
  });

/** a command's options: flags => {mandatory, default} */
export const optionsOf = (c: Command): Record<string, { mandatory: boolean; default: unknown }> =>
  Object.fromEntries(
    c.options.map((o: Option) => [o.flags, { mandatory: o.mandatory, default: o.defaultValue as unknown }]),
  );

/**
 * The modules a source file imports statically (what loading it costs): a group file must
 * name its action module only in a dynamic import() inside the action.
 */
export function staticImports(file: string): string[] {
  const src = readFileSync(`${REPO}${file}`, "utf8");
  return [...src.matchAll(/^import\s[^;]*?from\s+"([^"]+)";/gms)].map((m) => m[1]!).sort();
}

export function dynamicImports(file: string): string[] {
  const src = readFileSync(`${REPO}${file}`, "utf8");
  return [...src.matchAll(/\bimport\("([^"]+)"\)/g)].map((m) => m[1]!).sort();
}

/**
 * The repository's modules that CODE (run as in runTs) loads, relative to the repository
 * ("src/cli/net/net.ts"), recorded by a module resolve hook: what running it really costs.
 */
export function modulesLoaded(code: string, env: NodeJS.ProcessEnv = {}): { loaded: string[]; ran: Ran } {
  const dir = mkdtempSync(join(tmpdir(), "vnat-loaded-"));
  const log = join(dir, "loaded");
  try {
    writeFileSync(log, "");
    const hook = `import { appendFileSync } from "node:fs";
      export async function resolve(s, c, n) { const r = await n(s, c); appendFileSync(${JSON.stringify(log)}, r.url + "\\n"); return r; }`;
    const ran = runTs(
      `import { register } from "node:module";
       register("data:text/javascript," + encodeURIComponent(${JSON.stringify(hook)}));
       ${code}`,
      env,
    );
    const prefix = `file://${REPO}`;
    const loaded = [
      ...new Set(
        readFileSync(log, "utf8")
          .split("\n")
          .filter((u) => u.startsWith(prefix) && !u.includes("/node_modules/"))
          .map((u) => u.slice(prefix.length)),
      ),
    ].sort();
    return { loaded, ran };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * Runs FN with what this process writes as text to stdout and stderr kept in strings (a
 * command's output, called in-process); the streams are given back whatever FN does.
 */
export async function capture(fn: () => Promise<unknown>): Promise<{ out: string; err: string; error?: unknown }> {
  const out: string[] = [];
  const err: string[] = [];
  const hijack = (s: NodeJS.WriteStream, into: string[]) => {
    const real = s.write.bind(s);
    s.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      // the test runner's own reports are binary: they go through
      if (typeof chunk !== "string") return (real as (c: Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
      into.push(chunk);
      const cb = rest.find((r) => typeof r === "function") as ((e?: Error) => void) | undefined;
      if (cb) queueMicrotask(() => cb());
      return true;
    }) as typeof s.write;
    return () => {
      s.write = real;
    };
  };
  const giveOut = hijack(process.stdout, out);
  const giveErr = hijack(process.stderr, err);
  try {
    await fn();
    return { out: out.join(""), err: err.join("") };
  } catch (error) {
    return { out: out.join(""), err: err.join(""), error };
  } finally {
    giveOut();
    giveErr();
  }
}

/** VNAT_CONFIG, VNAT_RUN_DIR and VNAT_LOG_DIR in a new temp dir, for this process; undo() removes it */
export function tempRoots(): { dir: string; config: string; run: string; log: string; undo: () => void } {
  const dir = mkdtempSync(join(tmpdir(), "vnat-cli-"));
  const saved = { c: process.env.VNAT_CONFIG, r: process.env.VNAT_RUN_DIR, l: process.env.VNAT_LOG_DIR };
  const t = { dir, config: join(dir, "config.json"), run: join(dir, "run"), log: join(dir, "log") };
  process.env.VNAT_CONFIG = t.config;
  process.env.VNAT_RUN_DIR = t.run;
  process.env.VNAT_LOG_DIR = t.log;
  const put = (k: string, v: string | undefined) => (v === undefined ? delete process.env[k] : (process.env[k] = v));
  return {
    ...t,
    undo: () => {
      put("VNAT_CONFIG", saved.c);
      put("VNAT_RUN_DIR", saved.r);
      put("VNAT_LOG_DIR", saved.l);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
