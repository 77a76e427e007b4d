// The command helpers now live in src/sandbox/sh.ts (shipped with `vnat demo`); tests
// keep importing them from here.
export * from "../../src/sandbox/sh.ts";
