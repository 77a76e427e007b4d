// Which libvirt vnat talks to: -c/--connect > VNAT_LIBVIRT_URI > LIBVIRT_DEFAULT_URI >
// qemu:///system, and only this host's system libvirt: anything else is refused in one
// line naming the URI, where it came from and what is allowed.
import assert from "node:assert/strict";
import { test } from "node:test";
import { VnatError } from "../../src/core/errors.ts";
import { libvirtUri } from "../../src/core/input/libvirt-uri.ts";

test("precedence: -c/--connect, then VNAT_LIBVIRT_URI, then LIBVIRT_DEFAULT_URI, then qemu:///system", () => {
  assert.equal(libvirtUri({}), "qemu:///system");
  assert.equal(libvirtUri({ defaultEnv: "qemu+unix:///system" }), "qemu+unix:///system");
  assert.equal(libvirtUri({ vnatEnv: "qemu+unix:///system", defaultEnv: "qemu:///session" }), "qemu+unix:///system");
  assert.equal(
    libvirtUri({ connect: "qemu:///system", vnatEnv: "qemu:///session", defaultEnv: "qemu:///session" }),
    "qemu:///system",
  );
  // an empty variable is unset, as for libvirt's own tools
  assert.equal(libvirtUri({ vnatEnv: "", defaultEnv: "" }), "qemu:///system");
});

test("anything but this host's system libvirt is refused in one line naming it and its source", () => {
  const refused = (s: Parameters<typeof libvirtUri>[0], message: string): void =>
    assert.throws(
      () => libvirtUri(s),
      (e: unknown) => e instanceof VnatError && e.kind === "invalid-input" && e.message === message,
    );
  const allowed = "vnat works only with this host's system libvirt (qemu:///system or qemu+unix:///system)";
  refused({ connect: "qemu:///session" }, `libvirt URI "qemu:///session" (-c/--connect): ${allowed}`);
  refused({ connect: "" }, `libvirt URI "" (-c/--connect): ${allowed}`);
  refused(
    { defaultEnv: "qemu+ssh://root@other/system" },
    `libvirt URI "qemu+ssh://root@other/system" (LIBVIRT_DEFAULT_URI): ${allowed}`,
  );
  refused({ vnatEnv: "test:///default" }, `libvirt URI "test:///default" (VNAT_LIBVIRT_URI): ${allowed}`);
  // the one given wins even when a lower one would do
  refused(
    { connect: "xen:///system", defaultEnv: "qemu:///system" },
    `libvirt URI "xen:///system" (-c/--connect): ${allowed}`,
  );
  // a hostile value is shown printable
  refused({ connect: "qemu:///system\nX" }, `libvirt URI "qemu:///system?X" (-c/--connect): ${allowed}`);
});
