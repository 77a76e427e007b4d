// `vnat net adopt` / `vnat net release` as pure conversions (src/core/edit/adopt.ts): libvirt NAT
// XML → vnat definition and back, every refusal with its one line, and the running guests'
// ports read from domain XML (src/core/observe/guest-ports.ts).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  libvirtLease,
  parseNatNetwork,
  planAdopt,
  planRelease,
  removeVnatMetadata,
  type NatNetwork,
} from "../../src/core/edit/adopt.ts";
import { parseConfig, type Config } from "../../src/core/input/config.ts";
import { guestPortsOn, renderPortXml } from "../../src/core/observe/guest-ports.ts";
import { knownNetworks } from "../../src/core/observe/inventory.ts";
import { parseIp } from "../../src/core/ipv4.ts";
import type { HostView } from "../../src/core/edit/netcreate.ts";

const ip = (t: string): number => parseIp(t)!;
const config: Config = parseConfig(
  "test",
  JSON.stringify({
    providers: [
      { bridge: "br-prov", gateway: "198.51.100.1/24", pool: "198.51.100.10-198.51.100.12", dns: ["198.51.100.53"] },
    ],
  }),
);
const empty: HostView = { networks: [], links: new Set(["lo", "eth0"]), claimed: new Set() };

/** libvirt's `net-dumpxml --inactive` of a NAT network, with BODY in place of its <ip>. */
const natXml = (o: { forward?: string; ip?: string; extra?: string; bridge?: string; root?: string } = {}): string =>
  [
    `<network${o.root ?? ""}>`,
    "  <name>default</name>",
    "  <uuid>356c3310-0832-44d1-8813-72a13ae58158</uuid>",
    o.forward ?? "  <forward mode='nat'/>",
    o.bridge ?? "  <bridge name='virbr0' stp='on' delay='0'/>",
    "  <mac address='52:54:00:3d:57:e9'/>",
    ...(o.extra ? [o.extra] : []),
    o.ip ??
      [
        "  <ip address='192.168.122.1' netmask='255.255.255.0'>",
        "    <dhcp>",
        "      <range start='192.168.122.2' end='192.168.122.254'/>",
        "      <host mac='52:54:00:AA:07:01' name='web' ip='192.168.122.50'/>",
        "      <host mac='52:54:00:aa:07:02' ip='192.168.122.51'/>",
        "    </dhcp>",
        "  </ip>",
      ].join("\n"),
    "</network>",
    "",
  ].join("\n");

const ADOPTED = `<network>
  <name>default</name>
  <uuid>356c3310-0832-44d1-8813-72a13ae58158</uuid>
  <bridge name="virbr0" stp='on' delay='0'/>
  <mac address='52:54:00:3d:57:e9'/>
  <metadata>
    <vnat:network xmlns:vnat="urn:vnat:network:1">
      <vnat:lan address="192.168.122.1/24">
        <vnat:dhcp start="192.168.122.2" end="192.168.122.254"/>
      </vnat:lan>
      <vnat:uplink bridge="br-prov" address="198.51.100.10/24" gateway="198.51.100.1"/>
      <vnat:dns upstream="198.51.100.53"/>
      <vnat:host mac="52:54:00:aa:07:01" ip="192.168.122.50" name="web"/>
      <vnat:host mac="52:54:00:aa:07:02" ip="192.168.122.51"/>
    </vnat:network>
  </metadata>
</network>
`;

const RELEASED = `<network>
  <name>default</name>
  <uuid>356c3310-0832-44d1-8813-72a13ae58158</uuid>
  <bridge name="virbr0" stp='on' delay='0'/>
  <mac address='52:54:00:3d:57:e9'/>
  <forward mode='nat'/>
  <ip address='192.168.122.1' prefix='24'>
    <dhcp>
      <range start='192.168.122.2' end='192.168.122.254'/>
      <host mac='52:54:00:aa:07:01' name='web' ip='192.168.122.50'/>
      <host mac='52:54:00:aa:07:02' ip='192.168.122.51'/>
    </dhcp>
  </ip>
</network>
`;

const adopt = (xml: string, host = empty, uplink?: string) =>
  planAdopt(xml, { provider: "br-prov", ...(uplink ? { uplink } : {}) }, config, host);

describe("adopt: libvirt NAT → vnat", () => {
  test("golden: name, UUID, bridge and its MAC kept; gateway, range and reservations carried; uplink as net create picks it", () => {
    const plan = adopt(natXml());
    assert.equal(plan.xml, ADOPTED);
    assert.equal(plan.spec.lanBridge, "virbr0");
    assert.deepEqual(
      plan.spec.hosts?.map((h) => [h.mac, h.ip]),
      [
        ["52:54:00:aa:07:01", ip("192.168.122.50")],
        ["52:54:00:aa:07:02", ip("192.168.122.51")],
      ],
    );
    assert.equal(plan.uplinkWasAuto, true);
  });

  test("the live XML's default NAT port range, a prefix instead of a netmask, a gateway that is not the first host, a lease time", () => {
    const plan = adopt(
      natXml({
        forward: "  <forward mode='nat'>\n    <nat>\n      <port start='1024' end='65535'/>\n    </nat>\n  </forward>",
        ip: [
          "  <ip address='10.9.0.254' prefix='24'>",
          "    <dhcp>",
          "      <range start='10.9.0.10' end='10.9.0.20'>",
          "        <lease expiry='12' unit='hours'/>",
          "      </range>",
          "    </dhcp>",
          "  </ip>",
        ].join("\n"),
        root: " connections='2'",
      }),
    );
    assert.equal(plan.spec.lan.address, ip("10.9.0.254"));
    assert.deepEqual(plan.spec.dhcp, { start: ip("10.9.0.10"), end: ip("10.9.0.20"), lease: "12h" });
    assert.ok(!plan.xml.includes("<forward") && !plan.xml.includes("<ip") && !plan.xml.includes("<nat"));
  });

  test("no <dhcp>: vnat's DHCP is off; lease units and infinite", () => {
    const plan = adopt(natXml({ ip: "  <ip address='10.9.0.1' netmask='255.255.0.0'/>" }));
    assert.equal(plan.spec.dhcp, undefined);
    assert.equal(plan.spec.lan.prefix, 16);
    const lease = (l: string): string | undefined =>
      parseNatNetwork(
        natXml({
          ip: `  <ip address='10.9.0.1' prefix='24'><dhcp><range start='10.9.0.10' end='10.9.0.20'>${l}</range></dhcp></ip>`,
        }),
      ).dhcp?.lease;
    assert.equal(lease("<lease expiry='0'/>"), "infinite");
    assert.equal(lease("<lease expiry='30'/>"), "30m");
    assert.equal(lease("<lease expiry='600' unit='seconds'/>"), "600s");
  });

  test("other applications' metadata stays, and an <ip> element inside it is not libvirt's", () => {
    const extra = "  <metadata>\n    <app:x xmlns:app='urn:app'><ip address='1.2.3.4'/></app:x>\n  </metadata>";
    const plan = adopt(natXml({ extra }));
    assert.match(plan.xml, /<app:x xmlns:app='urn:app'><ip address='1.2.3.4'\/><\/app:x>/);
    assert.match(plan.xml, /<vnat:network xmlns:vnat="urn:vnat:network:1">/);
    assert.doesNotMatch(plan.xml, /192\.168\.122\.1' netmask/);
  });

  test("the uplink is checked as net create checks it: another network's uplink is taken", () => {
    const other = adopt(natXml())
      .xml.replace("<name>default</name>", "<name>other</name>")
      .replace(/<uuid>[^<]*<\/uuid>/, "");
    const host: HostView = {
      ...empty,
      networks: knownNetworks([["other", other.replace("virbr0", "virbr9")]], config),
    };
    assert.equal(adopt(natXml(), host).spec.uplink.address.address, ip("198.51.100.11"));
    assert.throws(() => adopt(natXml(), host, "198.51.100.10"), {
      message: 'network "default": uplink 198.51.100.10 on "br-prov" is already used by network "other"',
    });
  });

  test("its own bridge, present while the network runs, is not a conflict; another network's is", () => {
    assert.equal(adopt(natXml(), { ...empty, links: new Set(["virbr0"]) }).spec.lanBridge, "virbr0");
    const host: HostView = { ...empty, networks: [{ name: "x", bridge: "virbr0" }] };
    assert.throws(() => adopt(natXml(), host), /bridge "virbr0" is already used by another network or interface/);
  });

  // every refusal: one line naming the network and the thing
  const refusals: Array<[string, Parameters<typeof natXml>[0], RegExp]> = [
    [
      "IPv6",
      { extra: "  <ip family='ipv6' address='2001:db8::1' prefix='64'/>" },
      /<ip family="ipv6" address="2001:db8::1"> cannot be carried over \(adopt carries over IPv4 only; add the IPv6 side after adopting: <vnat:lan6> and <vnat:uplink6>, docs\/ipv6\.md\)/,
    ],
    [
      "two IPv4 <ip>",
      { extra: "  <ip address='10.1.0.1' prefix='24'/>" },
      /2 IPv4 <ip> elements cannot be carried over \(a vnat network serves one subnet\)/,
    ],
    ["no <ip>", { ip: "" }, /has no IPv4 <ip>: nothing to carry over/],
    [
      "route mode",
      { forward: "  <forward mode='route'/>" },
      /has <forward mode="route">: only a libvirt NAT network \(mode "nat"\) can be adopted/,
    ],
    ["isolated", { forward: "" }, /has no <forward mode="nat">/],
    ["forward dev", { forward: "  <forward mode='nat' dev='eth0'/>" }, /<forward dev="eth0"> cannot be carried over/],
    [
      "NAT address range",
      { forward: "  <forward mode='nat'><nat><address start='192.0.2.10' end='192.0.2.20'/></nat></forward>" },
      /<nat><address> \(a NAT address range\) cannot be carried over/,
    ],
    [
      "NAT port range",
      { forward: "  <forward mode='nat'><nat><port start='2000' end='3000'/></nat></forward>" },
      /<nat><port start="2000" end="3000"> \(a NAT port range\) cannot be carried over/,
    ],
    [
      "NAT ipv6",
      { forward: "  <forward mode='nat'><nat ipv6='yes'/></forward>" },
      /<nat ipv6="yes"> cannot be carried over \(adopt carries over IPv4 only; add the IPv6 side after adopting: <vnat:lan6> and <vnat:uplink6>, docs\/ipv6\.md\)/,
    ],
    [
      "forward interface",
      { forward: "  <forward mode='nat'><interface dev='eth0'/></forward>" },
      /<forward><interface> cannot be carried over/,
    ],
    [
      "mtu",
      { extra: "  <mtu size='9000'/>" },
      /<mtu> cannot be carried over \(vnat's links on the bridge use the default MTU\)/,
    ],
    [
      "domain",
      { extra: "  <domain name='lab' localOnly='yes'/>" },
      /<domain> cannot be carried over \(vnat's dnsmasq serves no local domain\)/,
    ],
    [
      "route",
      { extra: "  <route address='10.5.0.0' prefix='24' gateway='192.168.122.2'/>" },
      /<route> cannot be carried over/,
    ],
    [
      "bandwidth",
      { extra: "  <bandwidth><inbound average='1000'/></bandwidth>" },
      /<bandwidth> cannot be carried over/,
    ],
    ["port isolated", { extra: "  <port isolated='yes'/>" }, /<port> cannot be carried over/],
    [
      "dnsmasq options",
      {
        root: " xmlns:dnsmasq='http://libvirt.org/schemas/network/dnsmasq/1.0'",
        extra: "  <dnsmasq:options><dnsmasq:option value='x'/></dnsmasq:options>",
      },
      /<dnsmasq:options> cannot be carried over/,
    ],
    ["ipv6 attribute", { root: " ipv6='yes'" }, /<network ipv6="yes"> cannot be carried over/],
    [
      "dns forwarder",
      { extra: "  <dns><forwarder addr='8.8.8.8'/></dns>" },
      /<dns><forwarder> cannot be carried over \(vnat's dnsmasq forwards to the provider's DNS/,
    ],
    [
      "dns host",
      { extra: "  <dns><host ip='192.168.122.9'><hostname>x</hostname></host></dns>" },
      /<dns><host> cannot be carried over/,
    ],
    ["dns off", { extra: "  <dns enable='no'/>" }, /<dns enable="no"> cannot be carried over \(vnat always serves DNS/],
    [
      "bridge zone",
      { bridge: "  <bridge name='virbr0' zone='trusted'/>" },
      /<bridge zone="trusted"> cannot be carried over/,
    ],
    [
      "macTableManager",
      { bridge: "  <bridge name='virbr0' macTableManager='libvirt'/>" },
      /<bridge macTableManager="libvirt"> cannot be carried over/,
    ],
    [
      "tftp",
      { ip: "  <ip address='10.9.0.1' prefix='24'><tftp root='/srv'/></ip>" },
      /<ip><tftp> cannot be carried over/,
    ],
    [
      "localPtr",
      { ip: "  <ip address='10.9.0.1' prefix='24' localPtr='yes'/>" },
      /<ip localPtr="yes"> cannot be carried over/,
    ],
    [
      "bootp",
      {
        ip: "  <ip address='10.9.0.1' prefix='24'><dhcp><range start='10.9.0.10' end='10.9.0.20'/><bootp file='pxe'/></dhcp></ip>",
      },
      /<dhcp><bootp> cannot be carried over/,
    ],
    [
      "two ranges",
      {
        ip: "  <ip address='10.9.0.1' prefix='24'><dhcp><range start='10.9.0.10' end='10.9.0.20'/><range start='10.9.0.30' end='10.9.0.40'/></dhcp></ip>",
      },
      /2 DHCP <range> elements cannot be carried over/,
    ],
    [
      "hosts without a range",
      { ip: "  <ip address='10.9.0.1' prefix='24'><dhcp><host mac='52:54:00:00:00:01' ip='10.9.0.5'/></dhcp></ip>" },
      /<dhcp> with hosts and no <range> cannot be carried over/,
    ],
    [
      "host without mac",
      {
        ip: "  <ip address='10.9.0.1' prefix='24'><dhcp><range start='10.9.0.10' end='10.9.0.20'/><host name='x' ip='10.9.0.5'/></dhcp></ip>",
      },
      /<host ip="10.9.0.5"> without mac cannot be carried over/,
    ],
    [
      "host lease",
      {
        ip: "  <ip address='10.9.0.1' prefix='24'><dhcp><range start='10.9.0.10' end='10.9.0.20'/><host mac='52:54:00:00:00:01' ip='10.9.0.5'><lease expiry='5'/></host></dhcp></ip>",
      },
      /<host><lease> \(a lease time of its own\) cannot be carried over/,
    ],
    [
      "host name with a dot",
      {
        ip: "  <ip address='10.9.0.1' prefix='24'><dhcp><range start='10.9.0.10' end='10.9.0.20'/><host mac='52:54:00:00:00:01' name='a.b' ip='10.9.0.5'/></dhcp></ip>",
      },
      /<host mac="52:54:00:00:00:01">: name "a.b": expected 1-63 letters/,
    ],
    [
      "non-contiguous netmask",
      { ip: "  <ip address='10.9.0.1' netmask='255.0.255.0'/>" },
      /<ip netmask="255.0.255.0">: not a contiguous netmask/,
    ],
    ["a /31", { ip: "  <ip address='10.9.0.1' prefix='31'/>" }, /<ip address> "10.9.0.1\/31": prefix \/31 not allowed/],
    [
      "lease over a year",
      {
        ip: "  <ip address='10.9.0.1' prefix='24'><dhcp><range start='10.9.0.10' end='10.9.0.20'><lease expiry='9999' unit='hours'/></range></dhcp></ip>",
      },
      /dhcp lease "9999h": at most 366d/,
    ],
    [
      "already vnat",
      { extra: "  <metadata><v:network xmlns:v='urn:vnat:network:1'/></metadata>" },
      /is a vnat network already/,
    ],
  ];
  for (const [what, o, re] of refusals)
    test(`refused in one line: ${what}`, () => {
      assert.throws(
        () => adopt(natXml(o)),
        (e: Error) => {
          assert.match(e.message, /^network "default": /);
          assert.match(e.message, re);
          assert.ok(!e.message.includes("\n"), e.message);
          return true;
        },
      );
    });

  test("an unknown provider is named", () => {
    assert.throws(() => planAdopt(natXml(), { provider: "br-x" }, config, empty), {
      message: 'network "default": provider "br-x" is not in the config (add it with vnat provider add)',
    });
  });
});

describe("release: vnat → libvirt NAT", () => {
  test("golden: forward nat, <ip> with the gateway, range and hosts as reservations; vnat metadata gone", () => {
    const plan = planRelease(ADOPTED, {});
    assert.equal(plan.xml, RELEASED);
    assert.deepEqual(plan.dropped, []);
  });

  test("round trip: adopt then release carries the same gateway, range, lease and reservations", () => {
    const before = parseNatNetwork(natXml());
    const after: NatNetwork = parseNatNetwork(planRelease(adopt(natXml()).xml, {}).xml);
    assert.deepEqual(after, before);
    const lease = natXml({
      ip: "  <ip address='10.9.0.254' prefix='24'><dhcp><range start='10.9.0.10' end='10.9.0.20'><lease expiry='45' unit='minutes'/></range></dhcp></ip>",
    });
    assert.deepEqual(parseNatNetwork(planRelease(adopt(lease).xml, {}).xml), parseNatNetwork(lease));
  });

  test("vnat defaults spelt out: the derived range, DHCP off, lease units", () => {
    const md = (lan: string) =>
      `<network><name>n</name><bridge name="vnatbr0"/><metadata><v:network xmlns:v="urn:vnat:network:1">${lan}<v:uplink address="198.51.100.10/24"/></v:network></metadata></network>\n`;
    assert.match(
      planRelease(md('<v:lan address="10.0.0.1/24"/>'), {}).xml,
      /<range start='10.0.0.128' end='10.0.0.254'\/>/,
    );
    const off = planRelease(md('<v:lan address="10.0.0.1/24"><v:dhcp enabled="no"/></v:lan>'), {}).xml;
    assert.match(off, /<ip address='10.0.0.1' prefix='24'>\n  <\/ip>/);
    assert.doesNotMatch(off, /<metadata|dhcp/);
    assert.equal(libvirtLease("1h"), undefined);
    assert.equal(libvirtLease("infinite"), "<lease expiry='0'/>");
    assert.equal(libvirtLease("2d"), "<lease expiry='48' unit='hours'/>");
    assert.equal(libvirtLease("45m"), "<lease expiry='45' unit='minutes'/>");
    assert.equal(libvirtLease("150"), "<lease expiry='150' unit='seconds'/>");
  });

  test("forwards and floating IPs: refused in one line, dropped and listed with --force", () => {
    const xml = ADOPTED.replace(
      "    </vnat:network>",
      '      <vnat:forward proto="tcp" port="8080" to="192.168.122.50" to-port="80"/>\n      <vnat:floating address="198.51.100.12" to="192.168.122.51"/>\n    </vnat:network>',
    );
    assert.throws(() => planRelease(xml, {}), {
      message:
        'network "default": 2 port forward(s)/floating IP(s) cannot be carried over to libvirt NAT (remove them with vnat forward|floating remove, or release with --force to drop them)',
    });
    const plan = planRelease(xml, { force: true });
    assert.deepEqual(plan.dropped, ["forward tcp 8080 → 192.168.122.50:80", "floating 198.51.100.12 → 192.168.122.51"]);
    assert.equal(plan.xml, RELEASED);
  });

  test("an active libvirt network on an overlapping subnet: refused (libvirt would refuse the start)", () => {
    const other = { name: "lab", xml: natXml({ ip: "  <ip address='192.168.0.1' prefix='16'/>" }), active: true };
    assert.throws(() => planRelease(ADOPTED, {}, [other]), {
      message:
        'network "default": subnet 192.168.122.0/24 overlaps active libvirt network "lab" (192.168.0.0/16): libvirt would refuse to start it',
    });
    assert.equal(planRelease(ADOPTED, {}, [{ ...other, active: false }]).xml, RELEASED);
  });

  test("not a vnat network; a broken lan address", () => {
    assert.throws(() => planRelease(natXml(), {}), {
      message: 'network "default": not a vnat network (no vnat metadata); there is nothing to release',
    });
    assert.throws(() => planRelease(ADOPTED.replace("192.168.122.1/24", "192.168.122.1"), {}), {
      message: /^network "default": lan address/,
    });
  });

  test("the vnat element goes, prefixed or in the default namespace; other metadata stays", () => {
    assert.equal(
      removeVnatMetadata(
        '<network>\n  <metadata>\n    <network xmlns="urn:vnat:network:1"><lan/></network>\n    <a:b xmlns:a="urn:a"/>\n  </metadata>\n</network>\n',
      ),
      '<network>\n  <metadata>\n    <a:b xmlns:a="urn:a"/>\n  </metadata>\n</network>\n',
    );
  });
});

describe("guest ports", () => {
  const dom = `<domain type='qemu' id='3'>
  <name>vm1</name>
  <uuid>96F97950-b5e9-4f8c-96c0-6e1f93b315ee</uuid>
  <devices>
    <interface type='network'>
      <mac address='52:54:00:AA:07:01'/>
      <source network='default' portid='894e54b8-4698-4845-b465-b7cd0466cc0f' bridge='virbr0'/>
      <target dev='vnet0'/>
    </interface>
    <interface type='network'>
      <mac address='52:54:00:aa:07:02'/>
      <source network='other' portid='994e54b8-4698-4845-b465-b7cd0466cc0f' bridge='virbr1'/>
      <target dev='vnet1'/>
    </interface>
    <interface type='bridge'>
      <mac address='52:54:00:aa:07:03'/>
      <source bridge='virbr0'/>
      <target dev='vnet2'/>
    </interface>
  </devices>
</domain>`;
  test("only the interfaces of type network on the network; port XML without a plug", () => {
    const ports = guestPortsOn(dom, "default");
    assert.deepEqual(ports, [
      {
        domain: "vm1",
        domainUuid: "96f97950-b5e9-4f8c-96c0-6e1f93b315ee",
        mac: "52:54:00:aa:07:01",
        tap: "vnet0",
        portid: "894e54b8-4698-4845-b465-b7cd0466cc0f",
      },
    ]);
    assert.equal(
      renderPortXml(ports[0]!),
      "<networkport>\n  <uuid>894e54b8-4698-4845-b465-b7cd0466cc0f</uuid>\n  <owner>\n    <name>vm1</name>\n    <uuid>96f97950-b5e9-4f8c-96c0-6e1f93b315ee</uuid>\n  </owner>\n  <mac address='52:54:00:aa:07:01'/>\n</networkport>\n",
    );
  });
  test("an interface without a port id or with a tap name that is an option is refused", () => {
    assert.throws(
      () => guestPortsOn(dom.replace(/ portid='894[^']*'/, ""), "default"),
      /lacks its UUID, MAC or port id/,
    );
    assert.throws(
      () => guestPortsOn(dom.replace("dev='vnet0'", "dev='-x'"), "default"),
      /tap "-x": not an interface name/,
    );
  });
});
