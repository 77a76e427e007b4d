// The libvirt adapter over a fake virsh (a Runner that plays libvirt): listing by UUID and
// names read from the XML, the split-marker batches (two virsh processes for any number of
// networks), by-name calls after "--" (a UUID-looking name goes by its UUID), and one error
// policy: the runner never throws, a failed virsh becomes one VnatError line.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { libvirtOver, virshQuote } from "../../src/adapters/libvirt/virsh.ts";
import { VnatError } from "../../src/core/errors.ts";
import type { RunOptions, RunResult, Runner } from "../../src/exec/run.ts";

interface FakeNet {
  name: string;
  uuid: string;
  active: boolean;
  persistent: boolean;
  autostart: boolean;
  /** the persistent definition differs from the live XML by this comment */
  edited?: boolean;
}

const escape = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/'/g, "&apos;");
const xmlOf = (n: FakeNet, inactive: boolean): string =>
  `<network>\n  <name>${escape(n.name)}</name>\n  <uuid>${n.uuid}</uuid>\n${inactive && n.edited ? "  <!-- defined -->\n" : ""}</network>\n`;

/** Splits a virsh command string as virsh's tokenizer does (quotes and backslashes; ";" between commands). */
function virshTokens(script: string): string[][] {
  const commands: string[][] = [[]];
  let i = 0;
  while (i < script.length) {
    const c = script[i]!;
    if (c === " ") {
      i++;
      continue;
    }
    if (c === ";") {
      commands.push([]);
      i++;
      continue;
    }
    let tok = "";
    while (i < script.length && script[i] !== " " && script[i] !== ";") {
      if (script[i] === "'") {
        const end = script.indexOf("'", i + 1);
        assert.ok(end > i, `unterminated quote in ${script}`);
        tok += script.slice(i + 1, end);
        i = end + 1;
      } else if (script[i] === "\\") {
        tok += script[i + 1];
        i += 2;
      } else tok += script[i++];
    }
    commands.at(-1)!.push(tok);
  }
  return commands;
}

/** A fake virsh over NETS; every call is recorded. */
function fakeVirsh(
  nets: FakeNet[],
  o: { failDump?: Set<string>; exit?: RunResult; onCall?: (n: number) => unknown } = {},
) {
  const calls: string[][] = [];
  const one = (cmd: string[]): { out: string; err: string } => {
    const [verb, ...rest] = cmd;
    if (verb === "echo") return { out: `${rest.join(" ")}\n`, err: "" };
    if (verb === "net-list") {
      const pick = nets.filter(
        (n) =>
          (rest.includes("--all") || n.active) &&
          (!rest.includes("--persistent") || n.persistent) &&
          (!rest.includes("--autostart") || n.autostart),
      );
      return { out: pick.map((n) => ` ${n.uuid}\n`).join("") + "\n", err: "" };
    }
    if (verb === "net-dumpxml") {
      const uuid = rest.at(-1)!;
      const n = nets.find((x) => x.uuid === uuid);
      if (!n || o.failDump?.has(uuid))
        return { out: "", err: `error: failed to get network '${uuid}'\nerror: Network not found\n` };
      return { out: xmlOf(n, rest.includes("--inactive")), err: "" };
    }
    return { out: "", err: `error: unknown command: '${verb}'\n` };
  };
  const runner: Runner = {
    async run(cmd: string, args: readonly string[], _opts?: RunOptions): Promise<RunResult> {
      calls.push([cmd, ...args]);
      o.onCall?.(calls.length);
      if (o.exit) return o.exit;
      assert.equal(cmd, "virsh");
      assert.deepEqual(args.slice(0, 3), ["-q", "-c", "qemu+unix:///system"]);
      const rest = args.slice(3);
      // one argument: a command string (a batch); several: one command's own arguments
      const commands = rest.length === 1 ? virshTokens(rest[0]!) : [[...rest]];
      let out = "";
      let err = "";
      for (const c of commands) {
        const r = one(c);
        out += r.out;
        err += r.err;
      }
      return { exitCode: err && rest.length > 1 ? 1 : 0, stdout: out, stderr: err };
    },
  };
  return { calls, lv: libvirtOver(runner, () => "qemu+unix:///system") };
}

const uuid = (n: number): string => `00000000-0000-4000-8000-${String(n).padStart(12, "0")}`;
const NETS: FakeNet[] = [
  { name: "web", uuid: uuid(1), active: true, persistent: true, autostart: true, edited: true },
  { name: "--all", uuid: uuid(2), active: false, persistent: true, autostart: false },
  { name: "a'b & <c>; echo x", uuid: uuid(3), active: true, persistent: false, autostart: false },
  { name: uuid(1), uuid: uuid(4), active: false, persistent: true, autostart: false },
];

describe("libvirt adapter over a fake virsh", () => {
  test("lists every network by UUID, names read from the XML, states from the lists, in two virsh processes", async () => {
    const { calls, lv } = fakeVirsh(NETS);
    const list = await lv.listNetworks();
    assert.deepEqual(list, [
      { name: "web", uuid: uuid(1), active: true, autostart: true, persistent: true },
      { name: "--all", uuid: uuid(2), active: false, autostart: false, persistent: true },
      { name: "a'b & <c>; echo x", uuid: uuid(3), active: true, autostart: false, persistent: false },
      { name: uuid(1), uuid: uuid(4), active: false, autostart: false, persistent: true },
    ]);
    assert.equal(calls.length, 2, "one process lists, one dumps");
    assert.ok(
      calls.every((c) => c.length === 5),
      "each batch is ONE command-string argument",
    );
    assert.match(calls[1]![4]!, /^'net-dumpxml' '0{8}-0000-4000-8000-0{11}1' ; echo vnat-split-[0-9a-f]{24} ; /);
  });

  test("persistentToo dumps the definition of an active persistent network too", async () => {
    const { lv } = fakeVirsh(NETS);
    const web = (await lv.dumpAllNetworks({ persistentToo: true })).find((n) => n.name === "web")!;
    assert.doesNotMatch(web.xml, /defined/);
    assert.match(web.persistentXml!, /<!-- defined -->/);
    const inactive = await lv.dumpNetworks(["web", "nope"], true);
    assert.deepEqual([...inactive.keys()], ["web"]);
    assert.match(inactive.get("web")!, /defined/);
  });

  test("a network undefined between the list and the dump is left out; one still listed is an error", async () => {
    const nets = [...NETS];
    const { calls, lv } = fakeVirsh(nets, {
      failDump: new Set([uuid(3)]),
      // undefined while the first listing was read: the second listing no longer has it
      onCall: (n) => n === 2 && nets.splice(2, 1),
    });
    assert.deepEqual(
      (await lv.listNetworks()).map((n) => n.name),
      ["web", "--all", uuid(1)],
    );
    assert.equal(calls.length, 3, "list, dump, list again");
    const { lv: still } = fakeVirsh([...NETS], { failDump: new Set([uuid(3)]) });
    await assert.rejects(still.listNetworks(), (e: unknown) => {
      assert.ok(e instanceof VnatError);
      assert.equal(e.kind, "apply-failed");
      assert.equal(
        e.message,
        `virsh net-dumpxml ${uuid(3)}: no XML: error: failed to get network '${uuid(3)}'; error: Network not found`,
      );
      return true;
    });
  });

  test("by-name commands put the name after --; a name that reads as a UUID goes by its network's UUID", async () => {
    const { calls, lv } = fakeVirsh(NETS);
    await lv.startNetwork("--all").catch(() => {});
    assert.deepEqual(calls.at(-1), ["virsh", "-q", "-c", "qemu+unix:///system", "net-start", "--", "--all"]);
    await lv.setAutostart(uuid(1), false).catch(() => {});
    assert.deepEqual(calls.at(-1), [
      "virsh",
      "-q",
      "-c",
      "qemu+unix:///system",
      "net-autostart",
      "--disable",
      "--",
      uuid(4),
    ]);
    await assert.rejects(
      lv.destroyNetwork(uuid(9)),
      /^VnatError: network "0{8}-0000-4000-8000-0{11}9": not defined in libvirt$/,
    );
  });

  test("a failed virsh is one VnatError line without virsh's error: prefixes", async () => {
    const { lv } = fakeVirsh([], {
      exit: {
        exitCode: 1,
        stdout: "",
        stderr: "error: failed to get network 'x'\nerror: Network not found: no network with matching name 'x'\n",
      },
    });
    await assert.rejects(lv.undefineNetwork("x"), (e: unknown) => {
      assert.ok(e instanceof VnatError);
      assert.equal(e.kind, "apply-failed");
      assert.equal(
        e.message,
        "virsh net-undefine: failed to get network 'x'; Network not found: no network with matching name 'x'",
      );
      return true;
    });
  });

  test("a virsh that cannot start is one line too, never a thrown spawn error", async () => {
    const { lv } = fakeVirsh([], { exit: { exitCode: 127, stdout: "", stderr: "virsh: spawn virsh ENOENT" } });
    await assert.rejects(lv.virsh(["version"]), /^VnatError: virsh version: virsh: spawn virsh ENOENT$/);
    await assert.rejects(
      lv.listNetworks(),
      /^VnatError: virsh batch: 1 output\(s\) for 4 command\(s\): virsh: spawn virsh ENOENT$/,
    );
  });

  test("a listing that failed is an error, not an empty list", async () => {
    const { lv } = fakeVirsh([], {
      exit: { exitCode: 1, stdout: ["", "", "", ""].join("vnat-split-x"), stderr: "" },
    });
    // the marker is random: a batch whose outputs are not split by it is refused
    await assert.rejects(lv.listNetworks(), /virsh batch: 1 output\(s\) for 4 command\(s\)/);
    const failing: Runner = {
      async run(_cmd, args) {
        const mark = /echo (vnat-split-[0-9a-f]+)/.exec(args[3]!)![1]!;
        return {
          exitCode: 1,
          stdout: [1, 2, 3].map(() => mark).join("\n"),
          stderr: "error: failed to connect to the hypervisor\n",
        };
      },
    };
    await assert.rejects(
      libvirtOver(failing, () => "qemu:///system").listNetworks(),
      /^VnatError: virsh net-list: error: failed to connect to the hypervisor$/,
    );
  });

  test("virshQuote: what the tokenizer reads back is the argument; a line feed or NUL is refused", () => {
    for (const arg of ["plain", "a'b", "'", "\\'x", "a b ; echo c", "--all", ""])
      assert.deepEqual(virshTokens(virshQuote(arg)), [[arg]]);
    assert.throws(() => virshQuote("a\nb"), /line feed or a NUL/);
    assert.throws(() => virshQuote("a\0b"), /line feed or a NUL/);
  });
});
