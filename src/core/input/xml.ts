// Safe XML parsing for untrusted hook input: size-capped, no DTDs, no entity expansion,
// every value kept as text (fast-xml-parser would turn "0012" into 12 otherwise).
import { XMLParser, XMLValidator } from "fast-xml-parser";
import { invalid } from "../errors.ts";
import { printable } from "../names.ts";

export const MAX_XML_BYTES = 256 * 1024;

export type XmlNode = { [key: string]: XmlValue };
export type XmlValue = string | XmlNode | XmlNode[];

export function parseXml(what: string, text: string, arrayPaths: Set<string> = new Set()): XmlNode {
  if (Buffer.byteLength(text) > MAX_XML_BYTES)
    throw invalid(`${what}: document is ${Buffer.byteLength(text)} bytes (at most ${MAX_XML_BYTES} allowed)`);
  if (/<!(DOCTYPE|ENTITY)/i.test(text)) throw invalid(`${what}: DTDs and entity declarations are not allowed`);
  const check = XMLValidator.validate(text);
  if (check !== true)
    throw invalid(
      `${what}: malformed XML at line ${check.err.line}: ${printable(check.err.msg.replace(/\s+/g, " "), 120)}`,
    );
  const parser = new XMLParser({
    ignoreAttributes: false,
    attributeNamePrefix: "@",
    parseTagValue: false,
    parseAttributeValue: false,
    processEntities: false,
    trimValues: true,
    // like comments, processing instructions carry nothing vnat reads
    ignorePiTags: true,
    ignoreDeclaration: true,
    isArray: (_name, jpath) => arrayPaths.has(String(jpath)),
  });
  try {
    return parser.parse(text) as XmlNode;
  } catch (e) {
    // fast-xml-parser refuses names like __proto__ and very deep nesting by throwing
    const msg = (e as Error).message;
    const reserved = /Invalid \w+: "([^"]*)" is a reserved/.exec(msg);
    if (reserved) throw invalid(`${what}: name "${printable(reserved[1]!)}" is not allowed in vnat's input`);
    throw invalid(`${what}: malformed XML: ${printable(msg, 120)}`);
  }
}

export function child(node: XmlValue | undefined, key: string): XmlNode | undefined {
  if (!node || typeof node === "string" || Array.isArray(node)) return undefined;
  const v = node[key];
  if (v === undefined) return undefined;
  if (typeof v === "string") return {};
  if (Array.isArray(v)) return v[0];
  return v;
}

export function children(node: XmlNode | undefined, key: string): XmlNode[] {
  const v = node?.[key];
  if (v === undefined) return [];
  if (typeof v === "string") return [{}];
  return Array.isArray(v) ? v : [v];
}

export function attr(node: XmlNode | undefined, name: string): string | undefined {
  const v = node?.["@" + name];
  return typeof v === "string" ? v : undefined;
}

export function text(node: XmlNode | undefined, key: string): string | undefined {
  const v = node?.[key];
  if (typeof v === "string") return v;
  if (v && !Array.isArray(v) && typeof v["#text"] === "string") return v["#text"];
  return undefined;
}
