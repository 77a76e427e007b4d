// core/input/isolation.ts: parsing <vnat:isolation>, and the set and forward rules it renders.
import assert from "node:assert/strict";
import { test } from "node:test";
import { VnatError } from "../../src/core/errors.ts";
import { parseCidr, parseIp } from "../../src/core/ipv4.ts";
import {
  DEFAULT_ISOLATION,
  HOST_SET,
  parseIsolation,
  renderHostSet,
  renderIsolationRules,
} from "../../src/core/input/isolation.ts";
import { LAN_IF } from "../../src/core/names.ts";
import { child, parseXml } from "../../src/core/input/xml.ts";

const el = (xml: string) => child(parseXml("t", xml), "isolation");

test("absent element or attributes: both blocked (the default)", () => {
  assert.deepEqual(parseIsolation("n", undefined), { host: "blocked", provider: "blocked" });
  assert.deepEqual(parseIsolation("n", el(`<isolation/>`)), DEFAULT_ISOLATION);
  assert.deepEqual(parseIsolation("n", el(`<isolation host="open"/>`)), { host: "open", provider: "blocked" });
  assert.deepEqual(parseIsolation("n", el(`<isolation provider="open" host="blocked"/>`)), {
    host: "blocked",
    provider: "open",
  });
});

test("any other value is invalid input naming the attribute and what is allowed", () => {
  assert.throws(
    () => parseIsolation(`network "a"`, el(`<isolation provider="OPEN"/>`)),
    (e: unknown) =>
      e instanceof VnatError &&
      e.kind === "invalid-input" &&
      e.message === `network "a": isolation provider="OPEN" (expected "blocked" or "open")`,
  );
  assert.throws(() => parseIsolation("n", el(`<isolation host=""/>`)), /isolation host="" \(expected/);
});

test("host set: sorted, deduplicated addresses; declared empty when there are none; absent when host is open", () => {
  const a = parseIp("198.51.100.5")!;
  const b = parseIp("10.0.0.1")!;
  assert.equal(
    renderHostSet(DEFAULT_ISOLATION, [a, b, a]),
    `  set ${HOST_SET} {\n    type ipv4_addr\n    elements = { 10.0.0.1, 198.51.100.5 }\n  }\n\n`,
  );
  assert.equal(renderHostSet(DEFAULT_ISOLATION, []), `  set ${HOST_SET} {\n    type ipv4_addr\n  }\n\n`);
  assert.equal(renderHostSet({ host: "open", provider: "blocked" }, [a]), "");
});

test("forward rules: host blocked refuses the host set, provider blocked the uplink subnet except the gateway", () => {
  const uplink = parseCidr("198.51.100.10/24")!;
  const gw = parseIp("198.51.100.1")!;
  const hostRule = `iifname "${LAN_IF}" ip daddr @${HOST_SET} reject with icmp type admin-prohibited`;
  const provRule = `iifname "${LAN_IF}" ip daddr 198.51.100.0/24 ip daddr != 198.51.100.1 reject with icmp type admin-prohibited`;
  assert.deepEqual(renderIsolationRules(DEFAULT_ISOLATION, uplink, gw), [hostRule, provRule]);
  assert.deepEqual(renderIsolationRules({ host: "blocked", provider: "open" }, uplink, gw), [hostRule]);
  assert.deepEqual(renderIsolationRules({ host: "open", provider: "blocked" }, uplink, gw), [provRule]);
  assert.deepEqual(renderIsolationRules({ host: "open", provider: "open" }, uplink, gw), []);
});
