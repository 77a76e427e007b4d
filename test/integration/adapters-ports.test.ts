// Guest ports the hook records for `vnat status` (src/adapters/store/ports.ts), on real files in a
// temp directory: one file per port named by its UUID (or MAC), repeated port-created
// events converge, an id that is not a UUID/MAC never becomes a path.
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, test } from "node:test";
import { listPorts, recordPort, removePort } from "../../src/adapters/store/ports.ts";
import type { HookPort } from "../../src/core/input/hookdata.ts";

const base = mkdtempSync(join(tmpdir(), "vnat-ports-"));
after(() => rmSync(base, { recursive: true, force: true }));
let n = 0;
const freshDir = (): string => join(base, `ports${n++}`);
const byUuid = (a: HookPort, b: HookPort): number => (a.uuid ?? a.mac ?? "").localeCompare(b.uuid ?? b.mac ?? "");

const P1: HookPort = {
  uuid: "0f7ad2a1-3c4b-4d5e-8f90-a1b2c3d4e5f6",
  ownerName: "vm1",
  ownerUuid: "11111111-2222-4333-8444-555555555555",
  mac: "52:54:00:12:34:56",
};
const P2: HookPort = { uuid: "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", ownerName: "vm2", mac: "52:54:00:ab:cd:ef" };

describe("ports", () => {
  test("recorded ports are listed back as they were; the file is UUID.json, root's alone", async () => {
    const dir = freshDir();
    await recordPort(dir, P1);
    await recordPort(dir, P2);
    assert.deepEqual((await listPorts(dir)).sort(byUuid), [P1, P2].sort(byUuid));
    assert.deepEqual(readdirSync(dir).sort(), [`${P1.uuid}.json`, `${P2.uuid}.json`].sort());
    assert.equal(statSync(join(dir, `${P1.uuid}.json`)).mode & 0o777, 0o600);
    assert.deepEqual(JSON.parse(readFileSync(join(dir, `${P1.uuid}.json`), "utf8")), P1);
  });

  test("a port-created repeated (daemon restart) is one port, with the latest data", async () => {
    const dir = freshDir();
    await recordPort(dir, P1);
    await recordPort(dir, { ...P1, ownerName: "vm1-renamed" });
    assert.deepEqual(await listPorts(dir), [{ ...P1, ownerName: "vm1-renamed" }]);
  });

  test("a port without a UUID is named by its MAC (colons as dashes) and removed the same way", async () => {
    const dir = freshDir();
    const byMac: HookPort = { mac: "52:54:00:00:00:aa", ownerName: "vm3" };
    await recordPort(dir, byMac);
    assert.deepEqual(readdirSync(dir), ["52-54-00-00-00-aa.json"]);
    assert.deepEqual(await listPorts(dir), [byMac]);
    await removePort(dir, { mac: "52:54:00:00:00:aa" });
    assert.deepEqual(readdirSync(dir), []);
  });

  test("removePort removes that port only; a port never recorded (port-deleted twice) is fine", async () => {
    const dir = freshDir();
    await recordPort(dir, P1);
    await recordPort(dir, P2);
    await removePort(dir, P1);
    await removePort(dir, P1);
    assert.deepEqual(await listPorts(dir), [P2]);
  });

  test("an id that is not hex and dashes (a path, a name) writes nothing and removes nothing", async () => {
    const dir = freshDir();
    await recordPort(dir, P1);
    const victim = join(base, "victim.json");
    writeFileSync(victim, "keep\n");
    for (const uuid of ["../victim", "x/y", "vm1", "", "a".repeat(65)]) {
      await recordPort(dir, { uuid, ownerName: "evil" });
      await removePort(dir, { uuid });
    }
    await recordPort(dir, { ownerName: "no id at all" });
    assert.deepEqual(readdirSync(dir), [`${P1.uuid}.json`]);
    assert.equal(readFileSync(victim, "utf8"), "keep\n");
  });

  test("listPorts: no directory is no ports; files that are not .json are not ports", async () => {
    const dir = freshDir();
    assert.deepEqual(await listPorts(dir), []);
    await recordPort(dir, P2);
    writeFileSync(join(dir, "notes.txt"), "not a port\n");
    writeFileSync(join(dir, `${P1.uuid}.json.123.tmp`), "{half");
    assert.deepEqual(await listPorts(dir), [P2]);
    assert.equal(existsSync(join(dir, "notes.txt")), true);
  });
});
