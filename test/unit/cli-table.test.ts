// src/cli/table.ts: aligned columns; nothing to list means an empty stdout and one line on stderr.
import assert from "node:assert/strict";
import { test } from "node:test";
import { formatTable } from "../../src/cli/table.ts";
import { runTs } from "../support/cli.ts";

test("columns are as wide as their widest cell, two spaces apart, no trailing blanks", () => {
  const t = formatTable(
    ["NAME", "STATE", "X"],
    [
      ["web", "active", "1"],
      ["database", "inactive", ""],
    ],
  );
  assert.equal(t, "NAME      STATE     X\nweb       active    1\ndatabase  inactive\n");
});

test("a header alone, and short rows padded as empty cells", () => {
  assert.equal(formatTable(["A", "BB"], []), "A  BB\n");
  assert.equal(formatTable(["A", "BB", "C"], [["long"]]), "A     BB  C\nlong\n");
});

test("printTable: rows go to stdout; no rows: stdout empty, the empty line on stderr", () => {
  const rows = runTs(
    `import { printTable } from "./src/cli/table.ts"; await printTable(["H1", "H2"], [["a", "b"]], "no things");`,
  );
  assert.equal(rows.status, 0, rows.stderr);
  assert.equal(rows.stdout, "H1  H2\na   b\n");
  assert.equal(rows.stderr, "");
  const none = runTs(`import { printTable } from "./src/cli/table.ts"; await printTable(["H1"], [], "no things");`);
  assert.equal(none.status, 0, none.stderr);
  assert.equal(none.stdout, "");
  assert.equal(none.stderr, "no things\n");
  const say = runTs(`import { sayEmpty } from "./src/cli/table.ts"; sayEmpty("no vnat networks");`);
  assert.deepEqual([say.stdout, say.stderr], ["", "no vnat networks\n"]);
});
