// Figures of a chaos run, computed purely from its history: throughput and latency per second,
// availability (overall and inside fault windows), the longest unavailability, recovery after each
// heal, faults by type. The report draws these; results.json stores them.
import type { FaultEvent, FaultKind, HistoryOp } from './history.js';

export interface FaultWindow {
  readonly id: number;
  readonly fault: FaultKind;
  readonly targets: readonly number[];
  readonly detail: string;
  readonly startMs: number;
  /** End of the fault; the final heal when it never ended on its own. */
  readonly endMs: number;
}

export interface SecondStats {
  /** Second index since the run started. */
  readonly second: number;
  readonly ok: number;
  readonly failed: number;
  readonly indeterminate: number;
  /** Latency of the sends acknowledged in this second, ms; null when none. */
  readonly p50Ms: number | null;
  readonly p99Ms: number | null;
}

export interface RecoveryStat {
  readonly faultId: number;
  readonly fault: FaultKind;
  readonly healMs: number;
  /**
   * From the heal until every partition the workload wrote to had an acknowledged send after it
   * (the slowest partition); null when some partition never had one.
   */
  readonly recoveryMs: number | null;
  /** From the heal to the first acknowledged send on any partition; null when none followed. */
  readonly firstAckMs: number | null;
  /** The next fault started before every partition recovered (the figure then includes that fault). */
  readonly interrupted: boolean;
}

/** Recovery figures of one fault type, ms over its faults that recovered. */
export interface RecoveryByType {
  readonly faults: number;
  /** Faults after whose heal some partition never had an acknowledged send. */
  readonly unrecovered: number;
  readonly p50Ms: number | null;
  readonly maxMs: number | null;
}

export interface RunStats {
  readonly durationMs: number;
  /** Workload window: first send to the final heal. */
  readonly workloadStartMs: number;
  readonly workloadEndMs: number;
  readonly finalHealMs: number | null;
  readonly faults: readonly FaultWindow[];
  readonly faultsByType: Readonly<Partial<Record<FaultKind, number>>>;
  readonly seconds: readonly SecondStats[];
  /** Share of workload seconds with at least one acknowledged send, [0, 1]. */
  readonly availability: number;
  /** The same inside fault windows; null without faults. */
  readonly availabilityInFaults: number | null;
  readonly longestUnavailableMs: number;
  readonly recoveries: readonly RecoveryStat[];
  readonly recoveryByType: Readonly<Partial<Record<FaultKind, RecoveryByType>>>;
  readonly latencyMs: { readonly p50: number | null; readonly p90: number | null; readonly p99: number | null; readonly max: number | null };
  /** Acknowledged sends per second over the workload window. */
  readonly throughputOkPerSecond: number;
}

export function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[index] as number;
}

export function computeStats(history: readonly HistoryOp[]): RunStats {
  const invokeTime = new Map<string, number>();
  const acks: { time: number; latencyMs: number; partition: string }[] = [];
  const failTimes: number[] = [];
  const infoTimes: number[] = [];
  let workloadStartMs = Infinity;
  let finalHealMs: number | null = null;
  let durationMs = 0;
  const starts = new Map<number, { event: FaultEvent; time: number }>();
  const faults: FaultWindow[] = [];
  const ends = new Map<number, number>();

  for (const op of history) {
    durationMs = Math.max(durationMs, op.time);
    if (op.f === 'final-heal') finalHealMs ??= op.time;
    if (op.f === 'fault-start') starts.set((op.value as FaultEvent).id, { event: op.value as FaultEvent, time: op.time });
    if (op.f === 'fault-end') ends.set((op.value as FaultEvent).id, op.time);
    // Acknowledged writes: the queue's sends and the txn workload's inputs (not the final probes).
    if ((op.f !== 'send' && op.f !== 'txn-input') || typeof op.value !== 'string' || op.process === 'p0') continue;
    if (op.type === 'invoke') {
      invokeTime.set(op.value, op.time);
      workloadStartMs = Math.min(workloadStartMs, op.time);
    } else if (op.type === 'ok') {
      acks.push({ time: op.time, latencyMs: op.time - (invokeTime.get(op.value) ?? op.time), partition: `${op.topic ?? '?'}/${op.partition ?? -1}` });
    } else if (op.type === 'fail') failTimes.push(op.time);
    else infoTimes.push(op.time);
  }
  if (workloadStartMs === Infinity) workloadStartMs = 0;
  const workloadEndMs = finalHealMs ?? durationMs;
  for (const [id, { event, time }] of starts) {
    faults.push({ id, fault: event.fault, targets: event.targets, detail: event.detail ?? '', startMs: time, endMs: ends.get(id) ?? workloadEndMs });
  }
  faults.sort((a, b) => a.startMs - b.startMs);
  const faultsByType: Partial<Record<FaultKind, number>> = {};
  for (const f of faults) faultsByType[f.fault] = (faultsByType[f.fault] ?? 0) + 1;

  const secondsCount = Math.floor(durationMs / 1000) + 1;
  const okPer = new Array<number>(secondsCount).fill(0);
  const failPer = new Array<number>(secondsCount).fill(0);
  const infoPer = new Array<number>(secondsCount).fill(0);
  const latPer: number[][] = Array.from({ length: secondsCount }, () => []);
  for (const a of acks) {
    const s = Math.floor(a.time / 1000);
    okPer[s] = (okPer[s] ?? 0) + 1;
    latPer[s]?.push(a.latencyMs);
  }
  for (const t of failTimes) failPer[Math.floor(t / 1000)] = (failPer[Math.floor(t / 1000)] ?? 0) + 1;
  for (const t of infoTimes) infoPer[Math.floor(t / 1000)] = (infoPer[Math.floor(t / 1000)] ?? 0) + 1;
  const seconds: SecondStats[] = okPer.map((ok, second) => {
    const lat = (latPer[second] ?? []).sort((a, b) => a - b);
    return { second, ok, failed: failPer[second] ?? 0, indeterminate: infoPer[second] ?? 0, p50Ms: percentile(lat, 0.5), p99Ms: percentile(lat, 0.99) };
  });

  // Availability over whole seconds of the workload window.
  const firstSecond = Math.floor(workloadStartMs / 1000);
  const lastSecond = Math.max(firstSecond, Math.ceil(workloadEndMs / 1000) - 1);
  let available = 0, total = 0, inFaultAvailable = 0, inFaultTotal = 0;
  for (let s = firstSecond; s <= lastSecond; s++) {
    const up = (okPer[s] ?? 0) > 0;
    total += 1;
    if (up) available += 1;
    const inFault = faults.some((f) => f.startMs < (s + 1) * 1000 && f.endMs > s * 1000);
    if (inFault) {
      inFaultTotal += 1;
      if (up) inFaultAvailable += 1;
    }
  }

  const ackTimes = acks.map((a) => a.time).filter((t) => t <= workloadEndMs).sort((a, b) => a - b);
  let longestUnavailableMs = 0;
  let previous = workloadStartMs;
  for (const t of [...ackTimes, workloadEndMs]) {
    longestUnavailableMs = Math.max(longestUnavailableMs, t - previous);
    previous = Math.max(previous, t);
  }

  const recoveries = computeRecoveries(faults, acks);
  const recoveryByType: Partial<Record<FaultKind, RecoveryByType>> = {};
  for (const kind of new Set(faults.map((f) => f.fault))) {
    const mine = recoveries.filter((r) => r.fault === kind);
    const times = mine.map((r) => r.recoveryMs).filter((t): t is number => t !== null).sort((a, b) => a - b);
    recoveryByType[kind] = { faults: mine.length, unrecovered: mine.length - times.length, p50Ms: percentile(times, 0.5), maxMs: times.at(-1) ?? null };
  }

  const latencies = acks.map((a) => a.latencyMs).sort((a, b) => a - b);
  const windowSeconds = Math.max(1e-3, (workloadEndMs - workloadStartMs) / 1000);
  return {
    durationMs, workloadStartMs, workloadEndMs, finalHealMs, faults, faultsByType, seconds,
    availability: total === 0 ? 0 : available / total,
    availabilityInFaults: inFaultTotal === 0 ? null : inFaultAvailable / inFaultTotal,
    longestUnavailableMs, recoveries, recoveryByType,
    latencyMs: { p50: percentile(latencies, 0.5), p90: percentile(latencies, 0.9), p99: percentile(latencies, 0.99), max: latencies.at(-1) ?? null },
    throughputOkPerSecond: ackTimes.length / windowSeconds,
  };
}

/** Per fault: from its heal until the first ack on any partition, and until one on every partition. */
function computeRecoveries(faults: readonly FaultWindow[], acks: readonly { time: number; partition: string }[]): RecoveryStat[] {
  const byPartition = new Map<string, number[]>();
  for (const a of acks) {
    let times = byPartition.get(a.partition);
    if (times === undefined) byPartition.set(a.partition, (times = []));
    times.push(a.time);
  }
  for (const times of byPartition.values()) times.sort((a, b) => a - b);
  const firstAtOrAfter = (times: readonly number[], t: number): number | undefined => {
    let lo = 0, hi = times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((times[mid] as number) < t) lo = mid + 1;
      else hi = mid;
    }
    return times[lo];
  };
  return faults.map((f) => {
    let slowest: number | null = 0;
    let first: number | null = null;
    for (const times of byPartition.values()) {
      const next = firstAtOrAfter(times, f.endMs);
      if (next === undefined) { slowest = null; continue; }
      first = first === null ? next : Math.min(first, next);
      if (slowest !== null) slowest = Math.max(slowest, next);
    }
    const recoveredAt = byPartition.size === 0 ? null : slowest;
    const nextFault = faults.find((g) => g.startMs >= f.endMs && g.id !== f.id);
    return {
      faultId: f.id, fault: f.fault, healMs: f.endMs,
      recoveryMs: recoveredAt === null ? null : recoveredAt - f.endMs,
      firstAckMs: first === null ? null : first - f.endMs,
      interrupted: recoveredAt !== null && nextFault !== undefined && nextFault.startMs < recoveredAt,
    };
  });
}
