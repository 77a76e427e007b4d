// No test is ever skipped: a test or suite whose prerequisite is missing (root, a Debian
// package, a daemon it cannot restart) runs as one failing test that names what is
// missing. `npm test` (scripts/test.mjs) checks the machine first and says in one line
// what to install, so these failures only show when a file runs on its own.
import { describe, test, type SuiteContext, type TestContext, type TestOptions } from "node:test";

type Body = (t: TestContext) => void | Promise<void>;
type SuiteBody = (s: SuiteContext) => void | Promise<void>;

const failing = (name: string, unmet: string): void => {
  test(name, () => {
    throw new Error(`cannot run here: ${unmet}`);
  });
};

/**
 * `needs(unmet).describe(...)` / `.test(...)`: node:test's own, or, when UNMET names a
 * missing prerequisite, one test of the same name that fails with it.
 */
export function needs(unmet: string | false | undefined): {
  describe: (name: string, options: TestOptions, fn: SuiteBody) => void;
  test: (name: string, options: TestOptions, fn: Body) => void;
} {
  return {
    describe: (name, options, fn) => (unmet ? failing(name, unmet) : void describe(name, options, fn)),
    test: (name, options, fn) => (unmet ? failing(name, unmet) : void test(name, options, fn)),
  };
}
