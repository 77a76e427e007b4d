// Where `vnat net create` finds the network XML template (src/adapters/templates.ts): from
// a checkout (src/adapters → ../../xml-templates), or the file the user names; a missing
// one is one invalid-input line naming where it looked and what to do.
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { after, describe, test } from "node:test";
import { NETWORK_TEMPLATE, readNetworkTemplate } from "../../src/adapters/templates.ts";
import { VnatError } from "../../src/core/errors.ts";

const base = mkdtempSync(join(tmpdir(), "vnat-templates-"));
after(() => rmSync(base, { recursive: true, force: true }));
const REPO_TEMPLATE = fileURLToPath(new URL(`../../xml-templates/${NETWORK_TEMPLATE}`, import.meta.url));

describe("network template", () => {
  test("run from source: the checkout's xml-templates/vnat-network.xml, as it is", async () => {
    assert.equal(NETWORK_TEMPLATE, "vnat-network.xml");
    const text = await readNetworkTemplate();
    assert.equal(text, readFileSync(REPO_TEMPLATE, "utf8"));
    assert.match(text, /<network[\s>]/);
  });

  test("a path given: that file's text, not the shipped one", async () => {
    const mine = join(base, "mine.xml");
    writeFileSync(mine, "<network><name>mine</name></network>\n");
    assert.equal(await readNetworkTemplate(mine), "<network><name>mine</name></network>\n");
  });

  test("a path that is not there: one invalid-input line naming it and --template; no fallback", async () => {
    const missing = join(base, "nope.xml");
    await assert.rejects(readNetworkTemplate(missing), (e: unknown) => {
      assert.ok(e instanceof VnatError);
      assert.equal(e.kind, "invalid-input");
      assert.equal(e.message, `network template: ${missing} not found (reinstall vnat, or pass --template FILE)`);
      return true;
    });
  });

  test("a path that is a directory is refused the same way", async () => {
    await assert.rejects(readNetworkTemplate(base), (e: unknown) => {
      assert.ok(e instanceof VnatError);
      assert.ok(!e.message.includes("\n"));
      assert.match(e.message, new RegExp(`^network template: ${base} not found`));
      return true;
    });
  });
});
