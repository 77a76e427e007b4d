// core/input/ifname.ts: which interface names a user may give (a bridge), and the one-line refusal.
import assert from "node:assert/strict";
import { test } from "node:test";
import { VnatError } from "../../src/core/errors.ts";
import { validateIfname } from "../../src/core/input/ifname.ts";

test("names of 1-15 letters, digits, _ . - are accepted as given", () => {
  for (const n of ["br0", "virbr12", "a", "x_y.z-1", "123456789012345", "_lead", ".5"])
    assert.equal(validateIfname("bridge", n), n);
});

test("anything ip(8) could misread or the kernel refuses is invalid input, in one line naming the field", () => {
  for (const n of ["", "-br0", "1234567890123456", "br 0", "br/0", "br:0", "é", ".", "..", "br0\n"]) {
    assert.throws(
      () => validateIfname("uplink bridge", n),
      (e: unknown) => {
        assert.ok(e instanceof VnatError);
        assert.equal(e.kind, "invalid-input");
        assert.match(e.message, /^uplink bridge ".*": not an interface name \(1-15 of letters/);
        assert.doesNotMatch(e.message, /\n/);
        return true;
      },
      `"${n}" must be refused`,
    );
  }
});
