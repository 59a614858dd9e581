// History file round trip, run figures and the HTML report, from a small hand-made run.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { HistoryRecorder, checkHistory, type HistoryOp, computeStats, parseChaosArgs, parseHistory, readHistoryFile, renderReport } from '@tributary/testing';

describe('HistoryRecorder', () => {
  it('writes JSONL that parses back to the same ops, flushing when the buffer is full', () => {
    const dir = mkdtempSync(join(tmpdir(), 'trib-history-'));
    try {
      let now = 1_000;
      const file = join(dir, 'history.jsonl');
      const recorder = new HistoryRecorder({ file, nowMs: () => now, flushLinesMax: 2 });
      recorder.record({ process: 'p1', type: 'invoke', f: 'send', value: 'p1-0', node: 1, topic: 't', partition: 0 });
      now += 5;
      recorder.record({ process: 'p1', type: 'ok', f: 'send', value: 'p1-0', node: 1, topic: 't', partition: 0, offset: 0 });
      // Two lines = the buffer limit: already on disk before close.
      expect(readFileSync(file, 'utf8').trim().split('\n')).toHaveLength(2);
      now -= 3; // a clock step back never makes time go backwards
      recorder.record({ process: 'c1', type: 'ok', f: 'read', value: 'p1-0', node: null, topic: 't', partition: 0, offset: 0 });
      recorder.close();
      recorder.close();
      const ops = readHistoryFile(file);
      expect(ops).toEqual(recorder.ops);
      expect(ops.map((o) => o.time)).toEqual([0, 5, 5]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the line of a malformed entry', () => {
    expect(() => parseHistory('{"process":"p1","type":"ok","f":"send","time":1}\nnot json\n')).toThrow(/line 2/);
    expect(() => parseHistory('{"process":"p1","type":"maybe","f":"send","time":1}')).toThrow(/line 1: not an op/);
  });
});

describe('figures and report', () => {
  // 10 s: acks every 100 ms except a 3 s outage inside a kill fault, one violation (a lost write).
  const ops = (() => {
    const recorder = new HistoryRecorder({ nowMs: () => 0 });
    let seq = 0;
    for (let t = 0; t < 10_000; t += 100) {
      const value = `p1-${seq++}`;
      const down = t >= 4_000 && t < 7_000;
      recorder.record({ process: 'p1', type: 'invoke', f: 'send', value, node: 1, topic: 't', partition: 0, time: t });
      if (down) recorder.record({ process: 'p1', type: 'info', f: 'send', value, node: 1, topic: 't', partition: 0, error: 'REQUEST_TIMED_OUT', time: t + 50 });
      else {
        recorder.record({ process: 'p1', type: 'ok', f: 'send', value, node: 1, topic: 't', partition: 0, offset: seq, time: t + 20 });
        if (value !== 'p1-3') recorder.record({ process: 'c1', type: 'ok', f: 'read', value, node: null, topic: 't', partition: 0, offset: seq, time: t + 30 });
      }
      if (t === 3_900) recorder.record({ process: 'nemesis', type: 'info', f: 'fault-start', value: { id: 1, fault: 'kill', targets: [1], detail: 'SIGKILL node 1' }, node: 1, time: 3_950 });
      if (t === 6_900) recorder.record({ process: 'nemesis', type: 'info', f: 'fault-end', value: { id: 1, fault: 'kill', targets: [1], detail: 'SIGKILL node 1' }, node: 1, time: 6_950 });
    }
    recorder.record({ process: 'nemesis', type: 'info', f: 'final-heal', value: null, node: null, time: 10_000 });
    return [...recorder.ops].sort((a, b) => a.time - b.time);
  })();

  it('computes availability, the longest outage, recovery and latency', () => {
    const stats = computeStats(ops);
    expect(stats.faultsByType).toEqual({ kill: 1 });
    expect(stats.longestUnavailableMs).toBe(7_020 - 3_920);
    expect(stats.availability).toBeCloseTo(7 / 10, 5);
    expect(stats.availabilityInFaults).toBeCloseTo(1 / 4, 5); // seconds 3..6 overlap the fault; only 3 had acks
    expect(stats.recoveries).toEqual([{ faultId: 1, fault: 'kill', healMs: 6_950, recoveryMs: 70, firstAckMs: 70, interrupted: false }]);
    expect(stats.recoveryByType).toEqual({ kill: { faults: 1, unrecovered: 0, p50Ms: 70, maxMs: 70 } });
    expect(stats.latencyMs.p50).toBe(20);
  });

  it('takes recovery as the slowest partition to see an ack after the heal', () => {
    const extra: HistoryOp[] = [
      { process: 'p2', type: 'invoke', f: 'send', value: 'p2-0', node: 2, topic: 't', partition: 1, time: 100 },
      { process: 'p2', type: 'ok', f: 'send', value: 'p2-0', node: 2, topic: 't', partition: 1, offset: 0, time: 150 },
      { process: 'p2', type: 'invoke', f: 'send', value: 'p2-1', node: 2, topic: 't', partition: 1, time: 8_000 },
      { process: 'p2', type: 'ok', f: 'send', value: 'p2-1', node: 2, topic: 't', partition: 1, offset: 1, time: 8_950 },
    ];
    const stats = computeStats([...ops, ...extra].sort((a, b) => a.time - b.time));
    expect(stats.recoveries[0]).toMatchObject({ firstAckMs: 70, recoveryMs: 2_000 });
  });

  it('renders a self-contained page with fault bands, series and a violation marker', () => {
    const check = checkHistory(ops);
    expect(check.violations.map((v) => v.kind)).toEqual(['lost', 'skipped-read']); // c1 never read p1-3, so it skipped it
    const html = renderReport({ title: 'test <run>', meta: { seed: '1' }, check, stats: computeStats(ops), skipped: { 'disk-full': 'needs root' } });
    expect(html).toContain('<svg');
    expect(html).toContain('test &lt;run&gt;');
    expect(html).toContain('FAIL');
    expect(html).toMatch(/<title>#1 kill SIGKILL node 1/);
    expect(html).toMatch(/<title>lost at 0\.32 s/);
    expect(html).toContain('needs root');
    expect(html).not.toContain('<script');
  });
});

describe('parseChaosArgs', () => {
  it('parses the documented flags and names every bad one', () => {
    const options = parseChaosArgs(['--time', '30', '--seed=4', '--nemesis', 'kill,pause', '--topology', 'single', '--workload', 'queue,admin']);
    expect(options).toMatchObject({ timeS: 30, seed: 4, nemesis: ['kill', 'pause'], topology: 'single', workloads: ['queue', 'admin'], schedule: 'random' });
    expect(parseChaosArgs(['--nemesis', 'none']).nemesis).toEqual([]);
    let message = '';
    try {
      parseChaosArgs(['--time', '-1', '--nemesis', 'kill,explode', '--topology', 'ring', '--colour', 'red']);
    } catch (error) {
      message = (error as Error).message;
    }
    for (const part of ['unknown option --colour', '--time must be an integer >= 1', '--nemesis: unknown explode', '--topology must be one of']) {
      expect(message).toContain(part);
    }
  });
});
