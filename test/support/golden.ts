// Golden files: compare rendered text with test/unit/golden/NAME; UPDATE_GOLDEN=1 rewrites them.
import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const dir = join(dirname(fileURLToPath(import.meta.url)), "..", "unit", "golden");

export function assertGolden(name: string, actual: string): void {
  const path = join(dir, name);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(path)) {
    if (process.env.CI) assert.fail(`golden file ${name} is missing (run UPDATE_GOLDEN=1 locally)`);
    mkdirSync(dir, { recursive: true });
    writeFileSync(path, actual);
  }
  assert.equal(actual, readFileSync(path, "utf8"), `rendered text differs from golden file ${name}`);
}
