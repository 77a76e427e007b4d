// The sandbox world now lives in src/sandbox/world.ts, so `vnat demo` can ship it; tests
// keep importing it from here.
export * from "../../src/sandbox/world.ts";
