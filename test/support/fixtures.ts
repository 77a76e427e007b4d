// Hook data documents shaped exactly like libvirt 9.0 writes them to a network hook.

export interface NetOpts {
  name: string;
  bridge: string;
  lan?: string;
  dhcp?: string;
  uplinkBridge?: string;
  uplink?: string;
  gateway?: string;
  dns?: string[];
  extraMetadata?: string;
  extraNetwork?: string;
  metadata?: string;
}

export function vnatMetadata(o: NetOpts): string {
  const up = [
    o.uplinkBridge !== undefined ? ` bridge="${o.uplinkBridge}"` : "",
    o.uplink !== undefined ? ` address="${o.uplink}"` : "",
    o.gateway !== undefined ? ` gateway="${o.gateway}"` : "",
  ].join("");
  const lan = o.dhcp
    ? `<vnat:lan address="${o.lan ?? "10.0.0.1/24"}">${o.dhcp}</vnat:lan>`
    : `<vnat:lan address="${o.lan ?? "10.0.0.1/24"}"/>`;
  const dns = (o.dns ?? []).map((d) => `<vnat:dns upstream="${d}"/>`).join("");
  return `<vnat:network xmlns:vnat="urn:vnat:network:1">${lan}<vnat:uplink${up}/>${dns}${o.extraMetadata ?? ""}</vnat:network>`;
}

export function networkXml(o: NetOpts): string {
  return `<network>
  <name>${o.name}</name>
  <uuid>3e3fce45-4f53-4a9a-a0b0-5d0a4ec3f1a1</uuid>
  <bridge name='${o.bridge}' stp='on' delay='0'/>
  <mac address='52:54:00:aa:bb:cc'/>
  ${o.extraNetwork ?? ""}
  <metadata>
    ${o.metadata ?? vnatMetadata(o)}
  </metadata>
</network>`;
}

export function hookData(o: NetOpts, port?: string): string {
  return `<hookData>\n${networkXml(o)}\n${port ?? ""}</hookData>\n`;
}

export function portXml(mac: string, owner = "guest1"): string {
  return `<networkport>
  <uuid>8b4b4bdc-7e51-4a47-9b2b-2f7e0f1c9a10</uuid>
  <owner><name>${owner}</name><uuid>c0a9e5a8-1f2b-4d7e-9a6c-2b1b7a4c5d6e</uuid></owner>
  <mac address='${mac}'/>
  <plug type='network' bridge='virbr9'/>
</networkport>`;
}
