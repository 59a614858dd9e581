// Exact latency percentiles in bounded memory: one counter per whole millisecond, as
// kafka-producer-perf-test reports them (integer ms), from 0 to `latencyMsMax`.

/** Default top of the histogram: the client's default `delivery.timeout.ms` (a record waiting longer has failed). */
export const DEFAULT_LATENCY_MS_MAX = 120_000;

export class LatencyHistogram {
  private readonly countsByMs: Uint32Array;
  private countTotal = 0;
  private latencyMsSum = 0;
  private latencyMsMaxSeen = 0;

  /** Memory is `4 * (latencyMsMax + 1)` bytes whatever the number of records. */
  constructor(readonly latencyMsMax: number = DEFAULT_LATENCY_MS_MAX) {
    if (!Number.isInteger(latencyMsMax) || latencyMsMax < 1 || latencyMsMax > 3_600_000) {
      throw new RangeError(`latencyMsMax must be an integer in [1, 3600000], got ${latencyMsMax}`);
    }
    this.countsByMs = new Uint32Array(latencyMsMax + 1);
  }

  /**
   * Records one latency. Latencies above `latencyMsMax` count in the top bucket (so a percentile
   * landing there reads `latencyMsMax`), while the average and maximum stay exact.
   */
  record(latencyMs: number): void {
    if (!(latencyMs >= 0)) throw new RangeError(`latency must be >= 0 ms, got ${latencyMs}`);
    const bucket = Math.min(Math.floor(latencyMs), this.latencyMsMax);
    this.countsByMs[bucket] = (this.countsByMs[bucket] ?? 0) + 1;
    this.countTotal += 1;
    this.latencyMsSum += latencyMs;
    if (latencyMs > this.latencyMsMaxSeen) this.latencyMsMaxSeen = latencyMs;
  }

  get count(): number {
    return this.countTotal;
  }

  get avgMs(): number {
    return this.countTotal === 0 ? 0 : this.latencyMsSum / this.countTotal;
  }

  get maxMs(): number {
    return this.latencyMsMaxSeen;
  }

  /**
   * The latency (whole ms) at `quantile` in [0, 1], Kafka's way: the element at index
   * floor(quantile * count) of the sorted latencies (clamped to the last). 0 when empty.
   */
  percentileMs(quantile: number): number {
    if (!(quantile >= 0 && quantile <= 1)) throw new RangeError(`quantile must be in [0, 1], got ${quantile}`);
    if (this.countTotal === 0) return 0;
    const index = Math.min(Math.floor(quantile * this.countTotal), this.countTotal - 1);
    let seen = 0;
    for (let ms = 0; ms < this.countsByMs.length; ms += 1) {
      seen += this.countsByMs[ms] ?? 0;
      if (seen > index) return ms;
    }
    throw new Error('unreachable: histogram counts do not add up to countTotal');
  }
}
