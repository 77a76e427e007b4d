// Issue 13.3: a guest cannot fill /run. One guest floods its network with 100,000 DHCP
// DISCOVERs, each from a new random MAC (raw frames from 0.0.0.0:68 to the broadcast
// address, as a booting client sends them); meanwhile a guest of another vnat network
// gets a lease, afterwards a well-behaved guest of the flooded network gets one, and /run
// grew by at most 1 MB. What bounds it: dnsmasq runs with --quiet-dhcp (no line per
// transaction), and the namespace's input chain drops DHCP over a per-MAC limit and over
// a shared one (GUEST_LIMITS in core/plan/render.ts), so dnsmasq answers a bounded number.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { existsSync, lstatSync, readdirSync, readFileSync, statfsSync, statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { kernelNames } from "../../src/core/names.ts";
import { parseIp } from "../../src/core/ipv4.ts";
import { GUEST_LIMITS } from "../../src/core/plan/render.ts";
import { hookData, type NetOpts } from "../support/fixtures.ts";
import { RUN_DIR, runHook, sandboxNet, vnatDebris } from "../support/hook.ts";
import { nsExec, run } from "../support/sh.ts";
import { assertNoWorldDebris, createWorld, worldUnavailable, type World } from "../support/world.ts";
import { needs } from "../support/needs.ts";

const FRAMES = 100_000;
const MAX_RUN_GROWTH = 1 << 20;
const tag = randomBytes(2).toString("hex");
const unmet = worldUnavailable() ?? (existsPython() ? false : "python3 is not installed (the raw frame sender)");
let world: World;
const nets: NetOpts[] = [];

function existsPython(): boolean {
  return (process.env.PATH ?? "/usr/bin:/bin").split(":").some((d) => existsSync(join(d, "python3")));
}

/**
 * The flood: DHCPDISCOVER frames on IFNAME through an AF_PACKET socket, each from a new
 * random locally administered MAC (the frame's source and chaddr), broadcast flag set.
 * Prints "SENT SECONDS".
 */
const SENDER = String.raw`
import random, socket, struct, sys, time
ifname, count, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(seed)

def checksum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF

BOOTP_LEN = 300
udp_len = 8 + BOOTP_LEN
ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + udp_len, 0, 0, 64, 17, 0, bytes(4), b"\xff" * 4)
ip = ip[:10] + struct.pack("!H", checksum(ip)) + ip[12:]
udp = struct.pack("!HHHH", 68, 67, udp_len, 0)
options = bytes([0x63, 0x82, 0x53, 0x63, 53, 1, 1, 255])
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((ifname, 0))
t0 = time.monotonic()
sent = 0
while sent < count:
    mac = bytes([(rnd.getrandbits(8) & 0xFC) | 0x02]) + rnd.randbytes(5)
    bootp = struct.pack("!BBBBIHH16s16s64s128s", 1, 1, 6, 0, rnd.getrandbits(32), 0, 0x8000, bytes(16), mac + bytes(10), bytes(64), bytes(128))
    try:
        s.send(b"\xff" * 6 + mac + b"\x08\x00" + ip + udp + (bootp + options).ljust(BOOTP_LEN, b"\0"))
        sent += 1
    except OSError:
        time.sleep(0.001)
print(sent, round(time.monotonic() - t0, 3))
`;

/** Bytes /run's filesystem has in use (statfs), and whether /run is a filesystem of its own. */
function runUsed(): { bytes: number; own: boolean } {
  const s = statfsSync("/run");
  return { bytes: (s.blocks - s.bfree) * s.bsize, own: statSync("/run").dev !== statSync("/").dev };
}

/** Bytes allocated to the files under DIR (st_blocks, as du counts them). */
function allocated(dir: string): number {
  let total = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    const st = lstatSync(p);
    total += st.blocks * 512;
    if (e.isDirectory()) total += allocated(p);
  }
  return total;
}

async function lan0Stats(name: string): Promise<{ rx: number; tx: number }> {
  const r = await run("ip", ["-n", kernelNames(name).netns, "-s", "-j", "link", "show", "dev", "lan0"]);
  const s = (JSON.parse(r.stdout) as Array<{ stats64: { rx: { packets: number }; tx: { packets: number } } }>)[0]!
    .stats64;
  return { rx: s.rx.packets, tx: s.tx.packets };
}

function dnsmasqAlive(name: string): boolean {
  const pid = Number(readFileSync(`${RUN_DIR}/net/${name}/dnsmasq.pid`, "utf8").trim());
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

const inRange = (ip: string): boolean =>
  parseIp(ip)! >= parseIp("10.0.0.100")! && parseIp(ip)! <= parseIp("10.0.0.200")!;

before(async () => {
  if (unmet) return;
  world = await createWorld();
  const dhcp = `<vnat:dhcp start="10.0.0.100" end="10.0.0.200" lease="1h"/>`;
  nets.push(await sandboxNet(world, `t${tag}fl`, "198.51.100.41/24", { dhcp }));
  nets.push(await sandboxNet(world, `t${tag}ot`, "198.51.100.42/24", { dhcp }));
  for (const n of nets)
    for (const [op, sub] of [
      ["start", "begin"],
      ["started", "begin"],
    ] as const) {
      const r = await runHook(n.name, op, sub, hookData(n));
      assert.equal(r.exitCode, 0, `${n.name} ${op}: ${r.stderr}`);
    }
});

after(async () => {
  if (unmet) return;
  for (const n of nets) await runHook(n.name, "stopped", "end", hookData(n));
  await world?.destroy();
  for (const n of nets) assert.deepEqual(vnatDebris(n.name), []);
  if (world) await assertNoWorldDebris(world.tag);
});

needs(unmet).describe("a DHCP flood from one guest", {}, () => {
  test(`${FRAMES} DISCOVERs from random MACs: /run grows by at most 1 MB, both networks keep leasing`, async (t) => {
    const [flooded, other] = nets as [NetOpts, NetOpts];
    const flooder = await world.addGuest(flooded.bridge);
    const bystander = await world.addGuest(other.bridge);
    const script = join(world.tmpDir, "dhcp-flood.py");
    await writeFile(script, SENDER);
    const dir = `${RUN_DIR}/net/${flooded.name}`;
    const run0 = runUsed();
    const dir0 = allocated(dir);
    const lan0 = await lan0Stats(flooded.name);

    const t0 = Date.now();
    let floodEnded = 0;
    const flood = nsExec(flooder.ns, "python3", [script, "eth0", String(FRAMES), String(parseInt(tag, 16))], {
      check: true,
      timeoutMs: 45_000,
    }).then((r) => {
      floodEnded = Date.now();
      return r;
    });
    // the other network serves a lease while the flood runs
    const lease = await bystander.dhcp(10_000);
    const leasedAt = Date.now();
    const [sent, seconds] = (await flood).stdout.trim().split(" ").map(Number) as [number, number];
    assert.equal(sent, FRAMES);
    assert.ok(inRange(lease.ip), lease.ip);
    t.diagnostic(
      `flood: ${sent} frames in ${seconds} s; the other network leased ${lease.ip} ${leasedAt - t0} ms after the flood began (${floodEnded >= leasedAt ? "during" : "after"} it)`,
    );

    // the flooded network's dnsmasq lives and serves a well-behaved guest
    assert.ok(dnsmasqAlive(flooded.name), "the flooded network's dnsmasq died");
    const late = await world.addGuest(flooded.bridge);
    const l2 = await late.dhcp(15_000);
    assert.ok(inRange(l2.ip), l2.ip);

    const lan1 = await lan0Stats(flooded.name);
    const run1 = runUsed();
    const dir1 = allocated(dir);
    const received = lan1.rx - lan0.rx;
    const answered = lan1.tx - lan0.tx;
    const elapsed = (Date.now() - t0) / 1000;
    t.diagnostic(
      `lan0 of the flooded network received ${received} packets and sent ${answered}; ` +
        `its state dir grew ${dir1 - dir0} bytes (dnsmasq.log ${statSync(`${dir}/dnsmasq.log`).size} bytes); ` +
        `/run (${run0.own ? "a filesystem of its own" : "shares / with everything else"}) grew ${run1.bytes - run0.bytes} bytes`,
    );
    // the flood reached the namespace (a flood that never arrived would prove nothing)
    assert.ok(received >= FRAMES / 10, `only ${received} of ${FRAMES} frames reached lan0`);
    // and dnsmasq answered no more than the shared DHCP bucket lets through (+ ARP and the late guest)
    const bucket = GUEST_LIMITS.dhcpAll.burst + GUEST_LIMITS.dhcpAll.rate * Math.ceil(elapsed);
    assert.ok(answered <= bucket + 50, `dnsmasq sent ${answered} packets (the bucket allows ${bucket})`);
    assert.ok(dir1 - dir0 <= MAX_RUN_GROWTH, `the network's state dir grew ${dir1 - dir0} bytes`);
    // /run as statfs counts it: only meaningful where it is not the root filesystem other work writes to
    if (run0.own) assert.ok(run1.bytes - run0.bytes <= MAX_RUN_GROWTH, `/run grew ${run1.bytes - run0.bytes} bytes`);
  });

  test("the flood left no lease behind: DISCOVERs are only offered, never leased", async () => {
    const leases = readFileSync(`${RUN_DIR}/net/${nets[0]!.name}/dnsmasq.leases`, "utf8").trim().split("\n");
    assert.equal(leases.filter((l) => l.trim() !== "").length, 1, leases.join("\n"));
  });
});
