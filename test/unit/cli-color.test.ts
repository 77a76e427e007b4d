// src/cli/color.ts: colour only on a terminal, never with NO_COLOR or TERM=dumb.
import assert from "node:assert/strict";
import { test } from "node:test";
import { colourEnabled, paint } from "../../src/cli/color.ts";

const tty = { isTTY: true } as NodeJS.WriteStream;
const pipe = { isTTY: false } as NodeJS.WriteStream;

test("colour is on only for a terminal without NO_COLOR and with a TERM other than dumb", () => {
  assert.equal(colourEnabled(tty, { TERM: "xterm" }), true);
  assert.equal(colourEnabled(tty, {}), true);
  assert.equal(colourEnabled(pipe, { TERM: "xterm" }), false);
  assert.equal(colourEnabled({} as NodeJS.WriteStream, { TERM: "xterm" }), false);
  assert.equal(colourEnabled(tty, { TERM: "xterm", NO_COLOR: "" }), false, "NO_COLOR set, even empty");
  assert.equal(colourEnabled(tty, { NO_COLOR: "1" }), false);
  assert.equal(colourEnabled(tty, { TERM: "dumb" }), false);
});

test("paint wraps text in its SGR code and a reset, or leaves it alone", () => {
  assert.equal(paint(true, "red", "FAIL"), "\x1b[31mFAIL\x1b[0m");
  assert.equal(paint(true, "green", "ok"), "\x1b[32mok\x1b[0m");
  assert.equal(paint(true, "yellow", "warn"), "\x1b[33mwarn\x1b[0m");
  assert.equal(paint(true, "dim", "x"), "\x1b[2mx\x1b[0m");
  assert.equal(paint(true, "bold", "x"), "\x1b[1mx\x1b[0m");
  assert.equal(paint(false, "red", "FAIL"), "FAIL");
  assert.equal(paint(false, "bold", ""), "");
});
