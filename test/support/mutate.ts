// Seeded mutation of a hookData document for property tests: attribute values, the
// network name and the bridge name are replaced by hostile or merely unusual text.
// Entities are never decoded by vnat's parser, so a value can carry a raw quote only
// inside the other kind of quotes, and never a raw "<" or "&": the generator respects
// that so documents stay well-formed and the hostile text reaches validation.

/** mulberry32: small, fast, good enough to drive a fuzzer reproducibly. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HOSTILE = [
  ";",
  "}",
  "{",
  "\n",
  "\r",
  "\t",
  " ",
  '"',
  "'",
  "`",
  "$(id)",
  "|",
  "\\",
  ",",
  "#",
  "*",
  "%",
  "\u0000",
  "\u001b[2J",
  "\u0085",
  "\u2028",
  "\u202e",
  "\u200b",
  "\ufeff",
  "\uff11",
  "\u0430",
  "\u0441",
  "../",
  "/",
  "..",
  "-",
  "--dhcp-script=/tmp/x",
  " --conf-file=/etc/shadow",
  "drop",
  "accept",
  " ; flush ruleset",
  "} ; table ip x {",
  "dev lo",
  "master lo",
  ":22",
  "/32",
  "/08",
  "0",
  "00",
  "0x1",
  "999999",
  "-1",
  "65536",
  "1e3",
  "tag:x",
  "option:router",
  "&#10;",
  "&quot;",
];

const BENIGN = [
  "10.0.0.5",
  "10.0.0.250",
  "10.0.0.2",
  "10.0.1.1/24",
  "10.9.8.1/16",
  "198.51.100.40",
  "198.51.100.41/24",
  "198.51.100.1",
  "198.18.0.53",
  "80",
  "443",
  "1-1024",
  "8000-8010",
  "65535",
  "1h",
  "2m",
  "120",
  "infinite",
  "52w",
  "52:54:00:00:00:01",
  "52:54:00:AB:CD:EF",
  "web",
  "db-2",
  "tcp",
  "udp",
  "yes",
  "no",
  "br0",
  "vnat-x",
];

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

/** One mutated value: benign (often valid) or hostile, built from the original. */
export function mutateValue(r: () => number, original: string): string {
  const roll = r();
  if (roll < 0.3) return pick(r, BENIGN);
  if (roll < 0.45) return original + pick(r, HOSTILE);
  if (roll < 0.55) return pick(r, HOSTILE) + original;
  if (roll < 0.65) {
    const i = Math.floor(r() * (original.length + 1));
    return original.slice(0, i) + pick(r, HOSTILE) + original.slice(i + 1);
  }
  if (roll < 0.8)
    return Array.from({ length: 1 + Math.floor(r() * 4) }, () => pick(r, [...HOSTILE, ...BENIGN])).join("");
  if (roll < 0.85) return original.repeat(2 + Math.floor(r() * 3000));
  return original;
}

/** Makes TEXT fit inside an attribute: no raw "<" or "&"; quoted with what it does not contain. */
function asAttribute(text: string): string {
  let t = text.replace(/[<&]/g, "_");
  if (t.includes('"') && t.includes("'")) t = t.replace(/'/g, "_");
  return t.includes('"') ? `'${t}'` : `"${t}"`;
}

/** Mutates 1-3 attribute values (and sometimes the name or bridge) of DOC; returns it with the name libvirt would pass. */
export function mutateDocument(r: () => number, doc: string): { doc: string; name: string } {
  const attrs = [...doc.matchAll(/ ([a-z-]+)=(["'])([^"']*)\2/g)].filter((m) => !m[1]!.startsWith("xmlns"));
  const chosen = new Set(Array.from({ length: 1 + Math.floor(r() * 3) }, () => Math.floor(r() * attrs.length)));
  let out = "";
  let last = 0;
  attrs.forEach((m, i) => {
    if (!chosen.has(i)) return;
    out += doc.slice(last, m.index) + ` ${m[1]}=${asAttribute(mutateValue(r, m[3]!))}`;
    last = m.index! + m[0].length;
  });
  out += doc.slice(last);
  let name = /<name>([^<]*)<\/name>/.exec(out)?.[1] ?? "";
  if (r() < 0.15) {
    name = mutateValue(r, name).replace(/[<&]/g, "_");
    out = out.replace(/<name>[^<]*<\/name>/, () => `<name>${name}</name>`);
  }
  return { doc: out, name: name.trim() };
}
