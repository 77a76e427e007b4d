// The shell hook (hooks/network) and the TypeScript side share one contract: which events
// vnat handles (and which of them the shell marks or answers alone), where files live under
// /run/vnat, which lines a cache entry may hold, which names the shell may turn into paths,
// and what it sends the agent. The TypeScript is the definition; this test reads
// the shell and fails when the two drift apart.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, test } from "node:test";
import { HOOK_EVENTS, IGNORED_EVENTS, hookEvent, hookEventSpec, type HookEventName } from "../../src/core/events.ts";
import { CACHE_KINDS, cacheEntryName } from "../../src/core/hookcache.ts";
import { validateNetworkName } from "../../src/core/names.ts";
import { agentPaths, claimsDir, hookCacheDir, netLockPaths, netPaths } from "../../src/core/paths.ts";
import { AGENT_BYPASS_ENV, parseAgentRequest } from "../../src/hook/agent-protocol.ts";
import { concernsVnat } from "../../src/hook/event.ts";
import { BEGIN_DAD_WAIT_MS } from "../../src/exec/probe/dad.ts";

const SHELL = readFileSync(new URL("../../hooks/network", import.meta.url), "utf8");
// the shell's own variables stand for the run dir, the network's name and the build id
const R = { run: "$run", config: "", log: "" };

const EVENTS = Object.keys(HOOK_EVENTS) as HookEventName[];
const opSubop = (e: { op: string; subop: string }): string => `${e.op} ${e.subop}`;
const VNAT_DOC = `<hookData><network><name>web</name><metadata><vnat:network xmlns:vnat="urn:vnat:network:1"/></metadata></network></hookData>`;

describe("hooks/network agrees with src/core", () => {
  test("the shell hands on exactly the events core/events.ts lists", () => {
    const m = /^case "\$2 \$3" in\n {2}(.*)\) ;;\n {2}\*\) exit 0 ;;\nesac$/m.exec(SHELL);
    assert.ok(m, "the shell's first case, on OP SUBOP");
    const listed = m[1]!.split(" | ").map((q) => JSON.parse(q) as string);
    assert.deepEqual(listed.sort(), EVENTS.map((e) => opSubop(HOOK_EVENTS[e])).sort());
    // and sh itself, on each: a handled event goes on to read the document, any other exits 0
    const script = `${m[0]}\necho on\n`;
    const others = [
      ...IGNORED_EVENTS.map(opSubop),
      "start end",
      "started end",
      "stopped begin",
      "plugged begin",
      "- -",
    ];
    for (const e of others) assert.equal(hookEvent(...(e.split(" ") as [string, string])), undefined, e);
    for (const [e, handled] of [...listed.map((l) => [l, true] as const), ...others.map((o) => [o, false] as const)]) {
      const [op, subop] = e.split(" ");
      const r = spawnSync("sh", ["-c", script, "hook", "web", op!, subop!, "-"], { encoding: "utf8" });
      assert.equal(r.status, 0, e);
      assert.equal(r.stdout.trim() === "on", handled, `${e}: the shell ${handled ? "drops" : "hands on"} it`);
      // Node's entry decides the same (hook/event.ts, for hook/main.ts and the agent)
      assert.equal(concernsVnat(["web", op!, subop!, "-"], VNAT_DOC), handled, `${e}: hook/event.ts`);
    }
  });

  test("the shell decides by OP alone after its first case: each handled event has its own", () => {
    const ops = EVENTS.map((e) => HOOK_EVENTS[e].op);
    assert.equal(new Set(ops).size, ops.length);
  });

  test("the shell marks NAME.begun for the event core/events.ts marks it for", () => {
    const m = /^if \[ "\$op" = ([a-z-]+) \]; then\n {2}begun=\$run/m.exec(SHELL);
    assert.ok(m, "the shell's begun marker");
    const marking = EVENTS.filter((e) => hookEventSpec(e).begun === "mark");
    assert.deepEqual(
      marking.map((e) => HOOK_EVENTS[e].op),
      [m[1]],
    );
  });

  test("the shell's fast path answers only the event core/events.ts gives it", () => {
    const m = /^\[ "\$op" = ([a-z-]+) \] \|\| to_agent$/m.exec(SHELL);
    assert.ok(m, "the shell's fast-path gate");
    const fast = EVENTS.filter((e) => hookEventSpec(e).fastPath);
    assert.deepEqual(
      fast.map((e) => HOOK_EVENTS[e].op),
      [m[1]],
    );
  });

  test("every path the shell builds is the one core/paths.ts defines", () => {
    const paths = [
      `entry=${hookCacheDir(R)}/${cacheEntryName("$name", "$VNAT_HOOK_KEY")}`,
      `"${netPaths(R, "$name").state}"`,
      `"${claimsDir(R)}/$value"`,
      `"${netLockPaths(R, "$name").begun}"`,
      `sock=${agentPaths(R, "$build").socket}`,
    ];
    for (const p of paths) assert.ok(SHELL.includes(p), `hooks/network should contain ${p}`);
  });

  test("the shell knows exactly the cache entry kinds core/hookcache.ts renders", () => {
    const loop = SHELL.slice(SHELL.indexOf("while read -r kind value"), SHELL.indexOf('done < "$entry"'));
    const kinds = [...loop.matchAll(/^ {4}([a-z]+)\)/gm)].map((m) => m[1]);
    assert.deepEqual(kinds.sort(), [...CACHE_KINDS].sort());
    assert.match(loop, /^ {4}\*\) fast= ;;$/m, "an unknown kind sends the event to Node");
  });

  test("a name the shell turns into paths is one validateNetworkName accepts, and back", () => {
    // the shell's three name checks, run by sh itself on each candidate
    const checks = SHELL.slice(
      SHELL.indexOf('case "$name" in [A-Za-z0-9]*)'),
      SHELL.indexOf('[ -f "${bundle%/*}/build-id" ]'),
    );
    const script = `name=$1\nto_node() { echo node; exit 0; }\n${checks}echo shell\n`;
    const names = [
      "a",
      "web1",
      "a.b-c_d",
      "x".repeat(32),
      "x".repeat(33),
      "-a",
      ".a",
      "_a",
      "a b",
      "a/b",
      "a'b",
      "a;b",
      "é",
      "a$b",
      "",
      "a\\b",
    ];
    for (const name of names) {
      const r = spawnSync("sh", ["-c", script, "hook", name], { encoding: "utf8" });
      const shell = r.stdout.trim() === "shell";
      let ts = true;
      try {
        validateNetworkName(name);
      } catch {
        ts = false;
      }
      assert.equal(
        shell,
        ts,
        `name ${JSON.stringify(name)}: shell ${shell ? "uses it" : "sends it to Node"}, vnat ${ts ? "accepts" : "refuses"} it`,
      );
    }
  });

  test("the agent header the shell writes is the one hook/agent-protocol.ts parses", () => {
    const printf =
      /printf '([^']*)' "\$name" "\$op" "\$subop" "\$\{VNAT_HOOK_KEY:--\}" "\$\{VNAT_HOOK_CONFIG:--\}" "\$data"/.exec(
        SHELL,
      );
    assert.ok(printf, "the shell's agent request");
    assert.equal(printf[1], "%s %s %s %s %s\\n%s\\n");
    const key = "a".repeat(64);
    assert.deepEqual(parseAgentRequest(`web start begin ${key} ${"b".repeat(64)}\n<hookData/>\n`), {
      name: "web",
      op: "start",
      subop: "begin",
      cacheKey: { key, configHash: "b".repeat(64) },
      data: "<hookData/>\n",
    });
    assert.deepEqual(parseAgentRequest("web stopped end - -\n<x/>"), {
      name: "web",
      op: "stopped",
      subop: "end",
      data: "<x/>",
    });
    assert.throws(
      () => parseAgentRequest("web stopped end\n<x/>"),
      /expected "NAME OP SUBOP KEY CONFIGHASH", got 3 field/,
    );
  });

  test("install.sh removes the build id before it replaces any file and writes it back last", () => {
    const install = readFileSync(new URL("../../install.sh", import.meta.url), "utf8");
    const body = install.slice(
      install.indexOf("install_files() {"),
      install.indexOf("\n}\n", install.indexOf("install_files() {")),
    );
    const lines = body.split("\n");
    const removed = lines.findIndex((l) => l.trim() === 'rm -f "$PREFIX/dist/build-id"');
    const puts = lines.map((l, i) => (/^\s*(put|for f in .*put) /.test(l) ? i : -1)).filter((i) => i >= 0);
    const written = lines.findIndex((l) => l.includes('put 0644 "$SRC/dist/build-id"'));
    assert.ok(removed >= 0 && removed < Math.min(...puts), "build-id removed before the first file is replaced");
    assert.equal(written, Math.max(...puts), "build-id written by the last put");
  });

  test("the shell's duplicate-address window is the one exec/probe/dad.ts uses", () => {
    const m = /dad_wait=([0-9.]+)/.exec(SHELL);
    assert.ok(m, "dad_wait in hooks/network");
    assert.equal(Math.round(Number(m[1]) * 1000), BEGIN_DAD_WAIT_MS);
  });
});

test("the shell hands no event to the agent under any of the test overrides AGENT_BYPASS_ENV lists", () => {
  const line = SHELL.split("\n").find((l) => l.includes("|| to_node") && l.includes("${VNAT_CONFIG-}"));
  assert.ok(line, "to_agent's override check");
  const vars = [...line.matchAll(/\$\{(VNAT_[A-Z_]+)-\}/g)].map((m) => m[1]);
  assert.deepEqual(vars, [...AGENT_BYPASS_ENV]);
});
