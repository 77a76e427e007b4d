// exec/probe/doctor-ipv6.ts: the kernel's IPv6 as `vnat doctor` tries it, in throwaway
// namespaces: on this machine everything works; forced failures (a refused ruleset, a
// sysctl that cannot be written, a kernel without IPv6) are reported by their first line;
// nothing is left on the host. And exec/doctor.ts reports the three checks.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { test } from "node:test";
import { firewall6Facts, NAT6_TRIAL, tryKernel6 } from "../../src/exec/probe/doctor-ipv6.ts";
import { runDoctor } from "../../src/exec/doctor.ts";
import { processRunner, type Runner } from "../../src/exec/run.ts";
import { run } from "../support/sh.ts";

const hostForwarding = (): string => readFileSync("/proc/sys/net/ipv6/conf/all/forwarding", "utf8");

test("tryKernel6: IPv6, forwarding and the ip6 NAT table work here, and the host is untouched", async () => {
  const fwdBefore = hostForwarding();
  const tablesBefore = (await run("nft", ["list", "tables"])).stdout;
  assert.deepEqual(await tryKernel6(processRunner, "BOOT_IMAGE=/vmlinuz root=/dev/vda1"), {
    present: true,
    disabledAll: false,
    disabledDefault: false,
    forwarding: null,
    nat: null,
    cmdlineDisabled: false,
  });
  assert.equal(hostForwarding(), fwdBefore, "the host's IPv6 forwarding");
  assert.equal((await run("nft", ["list", "tables"])).stdout, tablesBefore, "the host's nft tables");
  assert.doesNotMatch(tablesBefore, /vnat_doctor6/);
  assert.match(NAT6_TRIAL, /snat ip6 prefix to/);
});

test("tryKernel6: forced failures come back as one line each", async () => {
  // a ruleset the kernel refuses, a sysctl key that does not exist, and a namespace without IPv6's sysctls
  const spoiled: Runner = {
    run: (cmd, args, opts) => {
      if (args.includes("nft"))
        return processRunner.run(cmd, args, {
          ...opts,
          input: `${opts?.input ?? ""}table ip6 vnat_doctor6 { chain x { type nat hook nowhere priority 0; } }\n`,
        });
      if (args.includes("-w"))
        return processRunner.run(cmd, ["--net", "sysctl", "-q", "-w", "net.ipv6.conf.all.no_such_key=1"], opts);
      return processRunner.run(cmd, ["--net", "sysctl", "-n", "net.ipv6.no_such/conf"], opts);
    },
  };
  const r = await tryKernel6(spoiled, "quiet ipv6.disable=1");
  assert.equal(r.present, false);
  assert.match(r.presentError ?? "", /no_such/);
  assert.equal(r.cmdlineDisabled, true);
  assert.match(r.forwarding ?? "", /no_such_key/);
  assert.match(r.nat ?? "", /\S/);
  for (const line of [r.presentError, r.forwarding, r.nat]) assert.doesNotMatch(line ?? "", /\n/);
});

test("runDoctor: the three IPv6 kernel checks pass here", async () => {
  const checks = await runDoctor({
    runner: processRunner,
    roots: { run: "/nonexistent/run", config: "/nonexistent/config.json", log: "/nonexistent/log" },
    config: { error: "not read" },
    networks: { error: "not asked" },
    daemonVersion: undefined,
  });
  for (const id of ["kernel-ipv6", "kernel-ipv6-forwarding", "kernel-nft6"])
    assert.equal(
      checks.find((c) => c.id === id)?.status,
      "ok",
      `${id}: ${JSON.stringify(checks.find((c) => c.id === id))}`,
    );
});

test("firewall6Facts: the host's bridge-nf-call-ip6tables and ip6tables -S, read only", async () => {
  const f = await firewall6Facts(processRunner);
  let want: boolean | null = null;
  try {
    want = readFileSync("/proc/sys/net/bridge/bridge-nf-call-ip6tables", "utf8").trim() === "1";
  } catch {
    /* br_netfilter not loaded */
  }
  assert.equal(f.bridgeNfCall6, want);
  assert.match(f.ip6tables ?? "", /^-P FORWARD (ACCEPT|DROP)$/m);
});
