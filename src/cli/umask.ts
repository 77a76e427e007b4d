// The umask vnat was started with, for the command `vnat exec` runs. main.ts sets 077 (what
// vnat and its dnsmasq create is root's alone) as its body runs, which is after every module
// it imports has been evaluated (ESM), this one included (main → program → registry →
// exec.ts → here): so this reads the caller's. Read by setting and restoring, since
// process.umask() without an argument is deprecated.
const caller = process.umask(0o077);
process.umask(caller);

export const CALLER_UMASK: number = caller;
