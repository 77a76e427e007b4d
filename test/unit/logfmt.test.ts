// `vnat log`'s formatting (src/core/observe/logfmt.ts): pino's JSON lines as the hook writes them
// (copied from a real hook.log), and what an operator sees for each.
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { test } from "node:test";
import {
  formatLogLine,
  localTime,
  logLineMatches,
  parseLogLine,
  parseSince,
  type LogLine,
  type TzOffset,
} from "../../src/core/observe/logfmt.ts";
import { VnatError } from "../../src/core/errors.ts";

const UTC: TzOffset = () => 0;
const CEST: TzOffset = () => 120;
const T = 1796418209000; // 2026-12-04 21:03:29 UTC

const parse = (line: string): LogLine => {
  const l = parseLogLine(line);
  assert.ok(l, line);
  return l;
};
const fmt = (line: string, tz: TzOffset = UTC): string => formatLogLine(parse(line), tz);

test("golden: every kind of record the hook writes, as one readable line", () => {
  const cases: [string, string][] = [
    [
      `{"level":30,"time":${T},"name":"hook","network":"web","event":"start-begin","msg":"validated"}`,
      "2026-12-04 21:03:29  web               start         ok       validated",
    ],
    [
      `{"level":30,"time":${T},"name":"hook","network":"web","ms":44,"msg":"namespace started"}`,
      "2026-12-04 21:03:29  web               started       ok       namespace started: 44 ms",
    ],
    [
      `{"level":40,"time":${T},"name":"hook","network":"web","bridge":"vnatbr3","msg":"removed the bridge a failed start left"}`,
      "2026-12-04 21:03:29  web               start         warning  removed the bridge a failed start left: bridge vnatbr3",
    ],
    [
      `{"level":40,"time":${T},"name":"hook","network":"ke2e3-c","errors":["interface \\"vnu-e6236f11b04\\" is recorded by network \\"ke2e3-holder\\"'s state: left in place"],"msg":"teardown left errors"}`,
      `2026-12-04 21:03:29  ke2e3-c           stopped       warning  teardown left errors: interface "vnu-e6236f11b04" is recorded by network "ke2e3-holder"'s state: left in place`,
    ],
    [
      `{"level":50,"time":${T},"name":"hook","network":"te572or","op":"port-created","subop":"begin","err":{"type":"VnatError","message":"network \\"te572or\\": vnat has no namespace for it","stack":"VnatError: network\\n    at conflict (file:///x/dist/hook.js:82:29)"},"msg":"hook failed"}`,
      `2026-12-04 21:03:29  te572or           port-created  failed   hook failed: network "te572or": vnat has no namespace for it`,
    ],
    [
      `{"level":30,"time":${T},"name":"hook","network":"a-much-longer-network-name","msg":"namespace removed"}`,
      "2026-12-04 21:03:29  a-much-longer-network-name  stopped       ok       namespace removed",
    ],
    [
      `{"level":30,"time":${T},"name":"hook","pid":7882,"msg":"agent stopped"}`,
      "2026-12-04 21:03:29  -                 agent         ok       agent stopped",
    ],
    [
      // the agent's failure names its network only in the error
      `{"level":50,"time":${T},"name":"hook","err":{"type":"VnatError","message":"network \\"db\\": busy"},"msg":"agent: event failed"}`,
      `2026-12-04 21:03:29  db                agent         failed   agent: event failed: network "db": busy`,
    ],
    [
      `{"level":30,"name":"hook","msg":"something new","op":"frobbed","subop":"end"}`,
      "-                    -                 frobbed end   ok       something new",
    ],
  ];
  for (const [line, want] of cases) assert.equal(fmt(line), want);
});

test("local time: the offset the adapter passes (the time zone of the reader), not UTC", () => {
  assert.equal(
    fmt(`{"level":30,"time":${T},"network":"web","msg":"namespace removed"}`, CEST),
    "2026-12-04 23:03:29  web               stopped       ok       namespace removed",
  );
  assert.equal(
    localTime(Date.UTC(2026, 11, 31, 23, 30, 5), () => 60),
    "2027-01-01 00:30:05",
  );
  assert.equal(
    localTime(Date.UTC(2026, 0, 1, 0, 0, 0), () => -300),
    "2025-12-31 19:00:00",
  );
  assert.equal(localTime(8.64e15 + 1, UTC), "????-??-?? ??:??:??");
});

test("hostile text from the file is printed safely: no control characters, escapes or line breaks", () => {
  const nasty = `{"level":50,"time":${T},"network":"ev\\u001b[31mil\\nname\\u202e","msg":"bad\\u0007\\r\\nline","err":{"message":"x\\u009by"}}`;
  const out = fmt(nasty);
  assert.doesNotMatch(out, /[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]/);
  assert.equal(out, "2026-12-04 21:03:29  ev?[31mil?name?   -             failed   bad?; line: x?y");
  const text = parseLogLine("plain \u001b]0;title\u0007 text");
  assert.deepEqual(text, { kind: "text", text: "plain ?]0;title? text" });
  assert.equal(formatLogLine(text!, UTC), "plain ?]0;title? text");
  const long = fmt(`{"level":30,"time":${T},"network":"${"n".repeat(300)}","msg":"${"m".repeat(5000)}"}`);
  assert.ok(long.length < 800, `${long.length} characters`);
});

test("lines that are not records: text as it is; blank lines: nothing", () => {
  assert.deepEqual(parseLogLine("Dec  4 21:03:29 kernel: something"), {
    kind: "text",
    text: "Dec  4 21:03:29 kernel: something",
  });
  for (const notObject of ["42", "null", '"a string"', "[1,2]", '{"level":30'])
    assert.equal(parse(notObject).kind, "text", notObject);
  for (const blank of ["", "   ", "\r"]) assert.equal(parseLogLine(blank), undefined);
  // a record whose fields have the wrong types still shows
  assert.equal(
    fmt(`{"level":"high","time":"now","network":7,"msg":12,"errors":"x","ms":"3"}`),
    "-                    -                 -             ok       -",
  );
});

test("filter: by network (exact name), by time; text lines only when nothing filters", () => {
  const web = parse(`{"level":30,"time":${T},"network":"web","msg":"validated"}`);
  const db = parse(`{"level":30,"time":${T - 60_000},"network":"db","msg":"validated"}`);
  const agent = parse(`{"level":30,"time":${T},"msg":"agent stopped"}`);
  const text = parse("not json");
  assert.ok(logLineMatches(web, {}));
  assert.ok(logLineMatches(text, {}));
  assert.ok(logLineMatches(web, { network: "web" }));
  assert.ok(!logLineMatches(db, { network: "web" }));
  assert.ok(!logLineMatches(parse(`{"time":${T},"network":"web2","msg":"x"}`), { network: "web" }));
  assert.ok(!logLineMatches(agent, { network: "web" }));
  assert.ok(!logLineMatches(text, { network: "web" }));
  assert.ok(logLineMatches(web, { since: T }));
  assert.ok(!logLineMatches(db, { since: T }));
  assert.ok(!logLineMatches(text, { since: T }));
  assert.ok(!logLineMatches(parse(`{"network":"web","msg":"x"}`), { since: T }), "no time: not after anything");
});

test("--since: durations back from now, local dates and times; anything else is one line naming what is allowed", () => {
  const now = T;
  assert.equal(parseSince("30s", now, UTC), now - 30_000);
  assert.equal(parseSince("10m", now, UTC), now - 600_000);
  assert.equal(parseSince("2h", now, UTC), now - 7_200_000);
  assert.equal(parseSince("7d", now, UTC), now - 7 * 86_400_000);
  assert.equal(parseSince("2026-12-04", now, UTC), Date.UTC(2026, 11, 4));
  assert.equal(parseSince("2026-12-04 21:03", now, UTC), Date.UTC(2026, 11, 4, 21, 3));
  assert.equal(parseSince("2026-12-04T21:03:29", now, CEST), Date.UTC(2026, 11, 4, 19, 3, 29));
  for (const bad of ["yesterday", "10", "5w", "2026-02-30", "2026-12-04 25:00", "2026-12-04 10:61", "-1h", ""]) {
    assert.throws(
      () => parseSince(bad, now, UTC),
      (e: unknown) =>
        e instanceof VnatError &&
        e.kind === "invalid-input" &&
        /^--since "[^"\n]*": expected a duration \(30s, 10m, 2h, 7d\) or a local time/.test(e.message),
      bad,
    );
  }
});

test("every message the hook logs is placed under its event (the table in logfmt.ts follows src/hook)", () => {
  const dir = new URL("../../src/hook/", import.meta.url);
  const calls = readdirSync(dir)
    .filter((f) => f.endsWith(".ts"))
    .flatMap((f) => [
      ...readFileSync(new URL(f, dir), "utf8").matchAll(
        /\blog\.(?:info|warn|error)\(\s*\{([^}]*)\},\s*"([^"]+)"\s*\)/g,
      ),
    ]);
  assert.ok(calls.length >= 10, `found ${calls.length} log calls in src/hook`);
  const unplaced = calls
    .filter(([, fields]) => !/\b(event|op)\b/.test(fields!))
    .map(([, , msg]) => msg!)
    .filter(
      (msg) =>
        parse(JSON.stringify({ level: 30, time: T, msg })).kind === "entry" &&
        fmt(JSON.stringify({ time: T, msg })).split(/ {2,}/)[2] === "-",
    );
  assert.deepEqual(unplaced, [], 'messages logged without an event field that vnat log shows under event "-"');
});
