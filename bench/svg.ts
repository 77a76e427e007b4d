// A plain SVG bar chart of one benchmark run, written by hand (no chart library): one
// panel per group, one bar per figure, the baseline grey, a figure with a target green
// when met and red when missed, and the target drawn as a dashed line.
import type { Figure, Machine } from "./lib.ts";

const W = 1040;
/** labels are right-aligned at LABEL_W: ~6.5 px a character at 12 px, the longest ~75 characters */
const LABEL_W = 500;
const BAR_W = 380;
const ROW = 22;
const TITLES: Record<string, string> = {
  libvirt: "virsh net-start / net-destroy",
  hook: "hook latency",
  throughput: "TCP throughput, guest → internet namespace",
  throughput6: "IPv6 TCP throughput, guest → internet namespace",
  scale: "scale: networks up at once",
};

const esc = (s: string): string => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
const fmt = (x: number): string => (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(x >= 10 ? 1 : 2));

/** The limit a target puts on the figure's own value (a ratio target is scaled by the baseline). */
function targetValue(f: Figure, byId: Map<string, Figure>): number | undefined {
  if (!f.target) return undefined;
  if (f.target.of === "value") return f.target.limit;
  const base = f.baseline !== undefined ? byId.get(f.baseline) : undefined;
  return base ? base.value * f.target.limit : undefined;
}

export function renderSvg(figs: Figure[], machine: Machine, when: string, load: string): string {
  const byId = new Map(figs.map((f) => [f.id, f]));
  const groups = [...new Set(figs.map((f) => f.group))];
  const out: string[] = [];
  let y = 48;
  for (const g of groups) {
    // one panel per group and unit, so bars in a panel share a scale
    const units = [...new Set(figs.filter((f) => f.group === g).map((f) => f.unit))];
    for (const unit of units) {
      const rows = figs.filter((f) => f.group === g && f.unit === unit && Number.isFinite(f.value));
      if (rows.length === 0) continue;
      const max = Math.max(...rows.map((f) => Math.max(f.value, targetValue(f, byId) ?? 0))) * 1.08 || 1;
      out.push(`<text x="10" y="${y + 14}" class="h">${esc(TITLES[g] ?? g)} (${esc(unit)})</text>`);
      y += 24;
      for (const f of rows) {
        const w = Math.max(1, (f.value / max) * BAR_W);
        const cls = f.met === undefined ? (f.baseline === undefined ? "base" : "other") : f.met ? "met" : "missed";
        const ratio = f.ratio !== undefined ? `  ${f.ratio.toFixed(2)}×` : "";
        out.push(
          `<text x="${LABEL_W - 8}" y="${y + 15}" class="l">${esc(f.label)}</text>`,
          `<rect x="${LABEL_W}" y="${y + 3}" width="${w.toFixed(1)}" height="${ROW - 6}" class="${cls}"/>`,
          `<text x="${LABEL_W + w + 6}" y="${y + 15}" class="v">${fmt(f.value)}${ratio}</text>`,
        );
        const t = targetValue(f, byId);
        if (t !== undefined) {
          const tx = LABEL_W + (t / max) * BAR_W;
          out.push(`<line x1="${tx.toFixed(1)}" x2="${tx.toFixed(1)}" y1="${y}" y2="${y + ROW}" class="t"/>`);
        }
        y += ROW;
      }
      y += 12;
    }
  }
  const machineLine =
    `${machine.cpu}, ${machine.cores} cores, ${machine.memGiB} GiB, kernel ${machine.kernel}, Node ${machine.node}` +
    `${machine.libvirt ? `, libvirt ${machine.libvirt}` : ""}; load average ${load}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y + 30}" viewBox="0 0 ${W} ${y + 30}" font-family="sans-serif">
<style>
.h{font-size:14px;font-weight:bold} .l{font-size:12px;text-anchor:end} .v{font-size:12px}
.base{fill:#9e9e9e} .other{fill:#90caf9} .met{fill:#43a047} .missed{fill:#e53935}
.t{stroke:#000;stroke-width:2;stroke-dasharray:3,2} .m{font-size:11px;fill:#555}
</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="20" class="h">vnat benchmark, ${esc(when)}</text>
<text x="10" y="38" class="m">${esc(machineLine)}</text>
${out.join("\n")}
<text x="10" y="${y + 18}" class="m">grey: baseline · green: target met · red: missed · blue: compared, no target · dashed line: target · ×: ratio to the baseline measured in the same run</text>
</svg>
`;
}
