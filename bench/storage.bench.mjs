// Storage engine throughput: appends of 16 KiB batches of 1 KiB records (default flush policy and
// fsync=always) and a sequential read of the whole log. Plain node against packages/storage/dist
// (build first: npx tsc -b packages/storage).
//
//   node bench/storage.bench.mjs [--mb 256] [--fsync-mb 32] [--in-flight 8] [--json]
//
// Prints one line per scenario; with --json, one JSON object per line instead.
import { crc32c } from '@node-rs/crc32';
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { PartitionLog, parseLogConfig } from '@tributary/storage';

const { values } = parseArgs({
  options: {
    mb: { type: 'string', default: '256' },
    'fsync-mb': { type: 'string', default: '32' },
    'in-flight': { type: 'string', default: '8' },
    json: { type: 'boolean', default: false },
  },
});
const RECORD_BYTES = 1024;
const RECORDS_PER_BATCH = 16;
const IN_FLIGHT = Number(values['in-flight']);

/** A v2 batch of RECORDS_PER_BATCH records whose record section is opaque filler (storage never decodes it). */
function templateBatch() {
  const buf = Buffer.alloc(61 + RECORDS_PER_BATCH * RECORD_BYTES, 0x61);
  buf.writeBigInt64BE(0n, 0);
  buf.writeInt32BE(buf.length - 12, 8);
  buf.writeInt32BE(-1, 12);
  buf.writeInt8(2, 16);
  buf.writeInt16BE(0, 21);
  buf.writeInt32BE(RECORDS_PER_BATCH - 1, 23);
  buf.writeBigInt64BE(BigInt(Date.now()), 27);
  buf.writeBigInt64BE(BigInt(Date.now()), 35);
  buf.writeBigInt64BE(-1n, 43);
  buf.writeInt16BE(-1, 51);
  buf.writeInt32BE(-1, 53);
  buf.writeInt32BE(RECORDS_PER_BATCH, 57);
  buf.writeUInt32BE(crc32c(buf.subarray(21)), 17);
  return buf;
}

function report(name, bytes, records, ms, extra = {}) {
  const line = { scenario: name, mb: +(bytes / 2 ** 20).toFixed(1), seconds: +(ms / 1000).toFixed(2), mbPerSec: +((bytes / 2 ** 20) / (ms / 1000)).toFixed(1), recordsPerSec: Math.round(records / (ms / 1000)), ...extra };
  if (values.json) console.log(JSON.stringify(line));
  else console.log(`${name.padEnd(34)} ${String(line.mbPerSec).padStart(8)} MB/s ${String(line.recordsPerSec).padStart(10)} records/s  (${line.mb} MB in ${line.seconds} s${Object.entries(extra).map(([k, v]) => `, ${k} ${v}`).join('')})`);
}

async function appendScenario(name, dir, config, totalMb, inFlight) {
  const log = await PartitionLog.open({ dir, config, clock: Date.now });
  const template = templateBatch();
  const batches = Math.ceil((totalMb * 2 ** 20) / template.length);
  const started = performance.now();
  let issued = 0;
  async function worker() {
    while (issued < batches) {
      issued++;
      await log.appendAsLeader(Buffer.from(template), 0);
    }
  }
  await Promise.all(Array.from({ length: inFlight }, worker));
  const ms = performance.now() - started;
  const stats = log.ioStats;
  report(name, batches * template.length, batches * RECORDS_PER_BATCH, ms, { inFlight, writes: stats.writes, fsyncs: stats.fsyncs, segments: log.segmentCount });
  return log;
}

async function readScenario(name, log) {
  const started = performance.now();
  let offset = log.logStartOffset;
  let bytes = 0;
  while (offset < log.logEndOffset) {
    const { records } = await log.read(offset, 1024 * 1024);
    bytes += records.length;
    // Walk the returned headers to find the next offset, as a consumer would.
    let at = 0;
    let last = offset;
    while (at < records.length) {
      last = Number(records.readBigInt64BE(at)) + records.readInt32BE(at + 23);
      at += 12 + records.readInt32BE(at + 8);
    }
    offset = last + 1;
  }
  report(name, bytes, log.logEndOffset - log.logStartOffset, performance.now() - started, { fetchMaxBytes: '1 MiB' });
}

const root = await mkdtemp(path.join(os.tmpdir(), 'tributary-storage-bench-'));
try {
  const config = parseLogConfig({ segmentBytes: 128 * 1024 * 1024 });
  const log = await appendScenario('append (flush by replication)', path.join(root, 'default'), config, Number(values.mb), IN_FLIGHT);
  await readScenario('sequential read (page cache)', log);
  await log.close();
  const fsyncConfig = parseLogConfig({ segmentBytes: 128 * 1024 * 1024, flushMessages: 1 });
  const one = await appendScenario('append fsync=always, 1 in flight', path.join(root, 'fsync1'), fsyncConfig, Number(values['fsync-mb']) / 4, 1);
  await one.close();
  const many = await appendScenario(`append fsync=always, ${IN_FLIGHT} in flight`, path.join(root, 'fsyncN'), fsyncConfig, Number(values['fsync-mb']), IN_FLIGHT);
  await many.close();
} finally {
  await rm(root, { recursive: true, force: true });
}
