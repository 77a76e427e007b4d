// exec/change/fdb.ts on the real bridge(8): the static local fdb entries vnat's macvlans need are
// added in one batch, listed back as fdbKeys, and deleted tolerating what is already gone
// (the entry, or its whole bridge). Bridges are the test's own, in the host namespace
// (fdb entries are per bridge; no address is added anywhere).
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { fdbKey } from "../../src/core/input/attach.ts";
import { addFdb, deleteFdb, listFdbLocals } from "../../src/exec/change/fdb.ts";
import { processRunner } from "../../src/exec/run.ts";
import { run } from "../support/sh.ts";
import { Scratch } from "../support/scratch.ts";

const s = new Scratch();
let br1 = "";
let br2 = "";
before(async () => {
  br1 = await s.bridge("a");
  br2 = await s.bridge("b");
});
after(() => s.cleanup());

const MAC1 = "52:54:00:7e:00:01";
const MAC2 = "52:54:00:7e:00:02";

test("added entries are listed as bridge-local permanent ones; deleting them removes exactly them", async () => {
  const entries = [
    { bridge: br1, mac: MAC1 },
    { bridge: br2, mac: MAC2 },
  ];
  assert.deepEqual(await addFdb(processRunner, entries), { done: 2 });
  const listed = await listFdbLocals(processRunner);
  assert.ok(listed);
  for (const e of entries) assert.ok(listed.has(fdbKey(e)), `${fdbKey(e)} listed`);
  assert.ok(!listed.has(fdbKey({ bridge: br1, mac: MAC2 })));
  // replace: adding again is no error
  assert.deepEqual(await addFdb(processRunner, entries), { done: 2 });

  await deleteFdb(processRunner, [entries[0]!]);
  const after1 = (await listFdbLocals(processRunner))!;
  assert.ok(!after1.has(fdbKey(entries[0]!)));
  assert.ok(after1.has(fdbKey(entries[1]!)), "the other entry stays");
  // already gone: tolerated; a bridge that no longer exists: tolerated
  await deleteFdb(processRunner, entries);
  assert.ok(!(await listFdbLocals(processRunner))!.has(fdbKey(entries[1]!)));
  await deleteFdb(processRunner, [{ bridge: `${br1}x`, mac: MAC1 }]);
});

test("nothing to add: done 0 and no process; a missing bridge: an error naming the line, none added after it", async () => {
  assert.deepEqual(await addFdb(processRunner, []), { done: 0 });
  const r = await addFdb(processRunner, [
    { bridge: br1, mac: MAC1 },
    { bridge: "vtqnosuchbr", mac: MAC2 },
  ]);
  assert.equal(r.done, 1, "the first entry was added");
  assert.match(r.error ?? "", /^"bridge fdb replace 52:54:00:7e:00:02 dev vtqnosuchbr self local": /);
  const listed = (await listFdbLocals(processRunner))!;
  assert.ok(!listed.has(fdbKey({ bridge: "vtqnosuchbr", mac: MAC2 })));
  await deleteFdb(processRunner, [{ bridge: br1, mac: MAC1 }]);
  assert.ok(!(await listFdbLocals(processRunner))!.has(fdbKey({ bridge: br1, mac: MAC1 })));
});

test("a deletion bridge(8) refuses for another reason than a missing entry or bridge is an error naming the entries", async () => {
  // a MAC bridge(8) cannot parse
  await run("bridge", ["fdb", "replace", MAC1, "dev", br1, "self", "local"]);
  await assert.rejects(
    deleteFdb(processRunner, [{ bridge: br1, mac: "not-a-mac" }]),
    /^Error: delete fdb entries not-a-mac on vtq.*: /,
  );
  await deleteFdb(processRunner, [{ bridge: br1, mac: MAC1 }]);
});
