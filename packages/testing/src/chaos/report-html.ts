// report.html of a chaos run: one self-contained page (hand-written HTML + inline SVG, no scripts,
// no chart library) with the verdict, the figures, and a timeline — faults as shaded bands by type,
// acknowledged sends per second, p50/p99 latency per second, and a marker where each violation is.
import type { CheckResult } from './checker.js';
import type { FaultKind } from './history.js';
import type { RunStats } from './stats.js';

export interface ReportInput {
  readonly title: string;
  /** Replay facts: seed, commit, topology, nemesis, command line. */
  readonly meta: Readonly<Record<string, string>>;
  readonly check: CheckResult;
  readonly stats: RunStats;
  /** Faults the nemesis could not run here, with the reason. */
  readonly skipped: Readonly<Record<string, string>>;
}

const FAULT_COLORS: Record<FaultKind, string> = {
  'kill': '#e4572e', 'pause': '#f3a712', 'partition': '#4c6ef5', 'slow': '#20c997', 'lossy': '#15aabf',
  'rolling-restart': '#ae3ec9', 'kill-all': '#c92a2a', 'disk-full': '#868e96', 'power-loss': '#5c3d2e',
};

const WIDTH = 1100;
const LEFT = 110;
const RIGHT = 20;
const PLOT_W = WIDTH - LEFT - RIGHT;

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);
}

const fmtMs = (ms: number | null): string => (ms === null ? '—' : ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`);
const fmtPct = (share: number | null): string => (share === null ? '—' : `${(share * 100).toFixed(1)} %`);

export function renderReport(input: ReportInput): string {
  const { check, stats } = input;
  const verdict = check.valid ? '<span class="pass">PASS</span>' : '<span class="fail">FAIL</span>';
  const c = check.counts;
  const figures: [string, string][] = [
    ['sends attempted', String(c.sendsAttempted)],
    ['ok (acknowledged)', String(c.sendsOk)],
    ['failed (definitely not written)', String(c.sendsFailed)],
    ['indeterminate (info)', String(c.sendsIndeterminate)],
    ['values read', String(c.valuesRead)],
    ['lost (prefix / middle / postfix)', `${c.lost} (${c.lostByPosition.prefix} / ${c.lostByPosition.middle} / ${c.lostByPosition.postfix})`],
    ['unseen indeterminate writes', String(c.unseen)],
    ['duplicated', String(c.duplicated)],
    ['inconsistent offsets', String(c.inconsistentOffsets)],
    ['order violations', String(c.orderViolations)],
    ['faults injected', Object.entries(stats.faultsByType).map(([k, v]) => `${k} ×${v}`).join(', ') || 'none'],
    ['availability (overall / in faults)', `${fmtPct(stats.availability)} / ${fmtPct(stats.availabilityInFaults)}`],
    ['longest unavailability', fmtMs(stats.longestUnavailableMs)],
    ['throughput (acked sends/s)', stats.throughputOkPerSecond.toFixed(1)],
    ['latency p50 / p90 / p99 / max', [stats.latencyMs.p50, stats.latencyMs.p90, stats.latencyMs.p99, stats.latencyMs.max].map(fmtMs).join(' / ')],
  ];
  const rows = (pairs: readonly (readonly [string, string])[]): string =>
    pairs.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('\n');

  const violations = check.violations.length === 0
    ? '<p>No violations.</p>'
    : `<table class="list"><tr><th>time</th><th>kind</th><th>what</th></tr>${check.violations
        .map((v) => `<tr><td>${(v.time / 1000).toFixed(2)} s</td><td class="fail">${escapeHtml(v.kind)}</td><td>${escapeHtml(v.message)}</td></tr>`)
        .join('\n')}</table>`;
  const faults = stats.faults.length === 0
    ? '<p>No faults were injected.</p>'
    : `<table class="list"><tr><th>#</th><th>fault</th><th>from</th><th>to</th><th>targets</th><th>detail</th><th>first ack after heal</th><th>every partition acked after heal</th></tr>${stats.faults
        .map((f) => {
          const r = stats.recoveries.find((x) => x.faultId === f.id);
          return `<tr><td>${f.id}</td><td><span class="swatch" style="background:${FAULT_COLORS[f.fault]}"></span>${escapeHtml(f.fault)}</td>` +
            `<td>${(f.startMs / 1000).toFixed(1)} s</td><td>${(f.endMs / 1000).toFixed(1)} s</td><td>${f.targets.join(', ')}</td>` +
            `<td>${escapeHtml(f.detail)}</td><td>${fmtMs(r?.firstAckMs ?? null)}</td>` +
            `<td>${fmtMs(r?.recoveryMs ?? null)}${r?.interrupted === true ? ' (next fault began first)' : ''}</td></tr>`;
        })
        .join('\n')}</table>`;
  const skipped = Object.entries(input.skipped);
  const recoveryRows = Object.entries(stats.recoveryByType);
  const recovery = recoveryRows.length === 0
    ? '<p>No faults were healed.</p>'
    : `<table class="list"><tr><th>fault</th><th>healed</th><th>never recovered</th><th>p50</th><th>max</th></tr>${recoveryRows
        .map(([kind, r]) => `<tr><td><span class="swatch" style="background:${FAULT_COLORS[kind as FaultKind]}"></span>${escapeHtml(kind)}</td>` +
          `<td>${r.faults}</td><td>${r.unrecovered}</td><td>${fmtMs(r.p50Ms)}</td><td>${fmtMs(r.maxMs)}</td></tr>`)
        .join('\n')}</table>`;

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(input.title)}</title>
<style>
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px; color: #212529; max-width: ${WIDTH + 40}px; }
h1 { font-size: 20px; margin: 0 0 8px; } h2 { font-size: 16px; margin: 24px 0 8px; }
table { border-collapse: collapse; } th, td { text-align: left; padding: 3px 10px 3px 0; vertical-align: top; }
table.list th { border-bottom: 1px solid #ced4da; } table.list td { border-bottom: 1px solid #f1f3f5; }
.pass { color: #2b8a3e; font-weight: 700; } .fail { color: #c92a2a; font-weight: 700; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 6px; border-radius: 2px; }
.meta td, .meta th { padding-right: 16px; } svg text { font: 11px system-ui, sans-serif; fill: #495057; }
.cols { display: flex; gap: 48px; flex-wrap: wrap; }
</style></head><body>
<h1>${escapeHtml(input.title)} — ${verdict}</h1>
<table class="meta">${rows(Object.entries(input.meta))}</table>
<h2>Timeline</h2>
${renderTimeline(input)}
<div class="cols"><div><h2>Figures</h2><table>${rows(figures)}</table></div>
<div><h2>Legend</h2><table>${Object.entries(FAULT_COLORS).map(([k, color]) => `<tr><td><span class="swatch" style="background:${color}"></span>${k}</td></tr>`).join('')}
<tr><td><span class="swatch" style="background:#2f9e44"></span>acked sends/s</td></tr>
<tr><td><span class="swatch" style="background:#1971c2"></span>latency p50</td></tr>
<tr><td><span class="swatch" style="background:#e8590c"></span>latency p99</td></tr>
<tr><td><span class="swatch" style="background:#c92a2a"></span>violation</td></tr></table></div></div>
<h2>Violations (${check.violations.length}${check.valid ? '' : ' listed'})</h2>
${violations}
<h2>Recovery after heal (until every partition had an acknowledged send)</h2>
${recovery}
<h2>Faults</h2>
${faults}
${skipped.length === 0 ? '' : `<h2>Faults not run here</h2><table class="list">${skipped.map(([k, v]) => `<tr><td>${escapeHtml(k)}</td><td>${escapeHtml(v)}</td></tr>`).join('')}</table>`}
</body></html>
`;
}

function renderTimeline(input: ReportInput): string {
  const { stats, check } = input;
  const spanMs = Math.max(1000, stats.durationMs);
  const x = (ms: number): number => LEFT + (ms / spanMs) * PLOT_W;
  const parts: string[] = [];

  // Lane geometry, top to bottom.
  const faultTop = 10, faultH = 16 * Math.max(1, laneCount(stats));
  const thrTop = faultTop + faultH + 20, thrH = 140;
  const latTop = thrTop + thrH + 30, latH = 140;
  const vioTop = latTop + latH + 24, vioH = 18;
  const axisTop = vioTop + vioH + 6;
  const height = axisTop + 24;

  // Fault bands: across the whole chart (light), and labelled in their own lane (solid).
  const lanes = assignLanes(stats);
  for (const f of stats.faults) {
    const color = FAULT_COLORS[f.fault];
    const x0 = x(f.startMs), w = Math.max(2, x(f.endMs) - x0);
    parts.push(`<rect x="${x0.toFixed(1)}" y="${thrTop}" width="${w.toFixed(1)}" height="${latTop + latH - thrTop}" fill="${color}" opacity="0.12"/>`);
    const lane = lanes.get(f.id) ?? 0;
    parts.push(`<rect x="${x0.toFixed(1)}" y="${faultTop + lane * 16}" width="${w.toFixed(1)}" height="13" fill="${color}" rx="2"><title>#${f.id} ${escapeHtml(f.fault)} ${escapeHtml(f.detail)} (${(f.startMs / 1000).toFixed(1)}–${(f.endMs / 1000).toFixed(1)} s)</title></rect>`);
    if (w > 40) parts.push(`<text x="${(x0 + 3).toFixed(1)}" y="${faultTop + lane * 16 + 10}" style="fill:#fff">${escapeHtml(f.fault)} ${f.targets.join(',')}</text>`);
  }
  parts.push(`<text x="4" y="${faultTop + 11}">faults</text>`);
  if (stats.finalHealMs !== null) {
    const xf = x(stats.finalHealMs);
    parts.push(`<line x1="${xf}" x2="${xf}" y1="${faultTop}" y2="${vioTop + vioH}" stroke="#212529" stroke-dasharray="4 3"/><text x="${xf + 4}" y="${thrTop - 6}">final heal</text>`);
  }

  // Throughput: bars of acked sends per second.
  const okMax = Math.max(1, ...stats.seconds.map((s) => s.ok));
  const yThr = (v: number): number => thrTop + thrH - (v / okMax) * thrH;
  const barW = Math.max(1, (1000 / spanMs) * PLOT_W - 1);
  for (const s of stats.seconds) {
    if (s.ok === 0) continue;
    parts.push(`<rect x="${x(s.second * 1000).toFixed(1)}" y="${yThr(s.ok).toFixed(1)}" width="${barW.toFixed(1)}" height="${(thrTop + thrH - yThr(s.ok)).toFixed(1)}" fill="#2f9e44"><title>${s.second} s: ${s.ok} ok, ${s.failed} failed, ${s.indeterminate} info</title></rect>`);
  }
  for (const s of stats.seconds) {
    if (s.indeterminate + s.failed === 0) continue;
    parts.push(`<circle cx="${(x(s.second * 1000) + barW / 2).toFixed(1)}" cy="${thrTop + thrH - 3}" r="2.5" fill="#f59f00"><title>${s.second} s: ${s.failed} failed, ${s.indeterminate} indeterminate</title></circle>`);
  }
  parts.push(axisY(thrTop, thrH, okMax, 'acked/s', (v) => String(Math.round(v))));

  // Latency: p50 and p99 per second on a log scale (1 ms … max).
  const latMax = Math.max(10, ...stats.seconds.map((s) => s.p99Ms ?? 0));
  const logMax = Math.log10(latMax);
  const yLat = (ms: number): number => latTop + latH - (Math.log10(Math.max(1, ms)) / logMax) * latH;
  for (const [key, color] of [['p50Ms', '#1971c2'], ['p99Ms', '#e8590c']] as const) {
    // One polyline per run of consecutive seconds with acks: no line is drawn across an outage.
    let run: string[] = [];
    const flush = (): void => {
      if (run.length === 1) run.push(run[0] as string);
      if (run.length > 0) parts.push(`<polyline points="${run.join(' ')}" fill="none" stroke="${color}" stroke-width="1.5" stroke-linecap="round"/>`);
      run = [];
    };
    for (const s of stats.seconds) {
      const ms = s[key];
      if (ms === null) { flush(); continue; }
      run.push(`${(x(s.second * 1000) + barW / 2).toFixed(1)},${yLat(ms).toFixed(1)}`);
    }
    flush();
  }
  const ticks = [1, 10, 100, 1000, 10_000, 100_000].filter((t) => t <= latMax);
  for (const t of ticks) {
    parts.push(`<line x1="${LEFT}" x2="${LEFT + PLOT_W}" y1="${yLat(t).toFixed(1)}" y2="${yLat(t).toFixed(1)}" stroke="#e9ecef"/><text x="${LEFT - 6}" y="${(yLat(t) + 4).toFixed(1)}" text-anchor="end">${fmtMs(t)}</text>`);
  }
  parts.push(`<text x="4" y="${latTop + latH / 2}">latency</text><line x1="${LEFT}" x2="${LEFT}" y1="${latTop}" y2="${latTop + latH}" stroke="#adb5bd"/>`);

  // Violations: a red marker at each violation's time.
  parts.push(`<text x="4" y="${vioTop + 13}">violations</text>`);
  for (const v of check.violations) {
    const xv = x(v.time);
    parts.push(`<path d="M${xv.toFixed(1)} ${vioTop} l5 ${vioH - 4} h-10 z" fill="#c92a2a"><title>${escapeHtml(v.kind)} at ${(v.time / 1000).toFixed(2)} s: ${escapeHtml(v.message)}</title></path>`);
  }

  // Time axis.
  const stepS = niceStep(spanMs / 1000 / 12);
  for (let t = 0; t * 1000 <= spanMs; t += stepS) {
    parts.push(`<line x1="${x(t * 1000)}" x2="${x(t * 1000)}" y1="${axisTop - 4}" y2="${axisTop}" stroke="#adb5bd"/><text x="${x(t * 1000)}" y="${axisTop + 12}" text-anchor="middle">${t} s</text>`);
  }
  parts.push(`<line x1="${LEFT}" x2="${LEFT + PLOT_W}" y1="${axisTop - 4}" y2="${axisTop - 4}" stroke="#adb5bd"/>`);

  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" role="img">${parts.join('\n')}</svg>`;
}

function axisY(top: number, height: number, max: number, label: string, fmt: (v: number) => string): string {
  const lines: string[] = [`<text x="4" y="${top + height / 2}">${label}</text>`, `<line x1="${LEFT}" x2="${LEFT}" y1="${top}" y2="${top + height}" stroke="#adb5bd"/>`];
  for (const share of [0, 0.5, 1]) {
    const y = top + height - share * height;
    lines.push(`<line x1="${LEFT}" x2="${LEFT + PLOT_W}" y1="${y}" y2="${y}" stroke="#f1f3f5"/><text x="${LEFT - 6}" y="${y + 4}" text-anchor="end">${fmt(max * share)}</text>`);
  }
  return lines.join('');
}

function niceStep(raw: number): number {
  for (const step of [1, 2, 5, 10, 15, 30, 60, 120, 300, 600]) if (step >= raw) return step;
  return 1200;
}

/** Overlapping faults go to separate lanes so every band stays visible. */
function assignLanes(stats: RunStats): Map<number, number> {
  const laneEnds: number[] = [];
  const lanes = new Map<number, number>();
  for (const f of stats.faults) {
    let lane = laneEnds.findIndex((end) => end <= f.startMs);
    if (lane < 0) lane = laneEnds.push(0) - 1;
    laneEnds[lane] = f.endMs;
    lanes.set(f.id, lane);
  }
  return lanes;
}

function laneCount(stats: RunStats): number {
  return new Set(assignLanes(stats).values()).size;
}
