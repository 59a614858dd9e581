// Micro-benchmark of the record batch format: encode, full decode, header+CRC validation and the leader's
// produce validation (header+CRC, then every record's varints, inflating compressed sections) throughput
// for 1 KiB records in 16 KiB batches (Kafka's default batch.size), per codec; validation runs over 1 MiB.
// Usage: npx tsc -b packages/protocol && node bench/record-batch.bench.mjs [--seconds N] [--json]
// MB/s counts record payload bytes (key + value), so codecs compare on the same work; "wire" is the
// encoded batch size relative to the payload.
import { decodeRecordBatches, encodeRecordBatch, validateBatches, validateProducedBatch } from '@tributary/protocol';

const args = process.argv.slice(2);
const secondsPerCase = Number(args[args.indexOf('--seconds') + 1]) || 1;
const asJson = args.includes('--json');

const RECORD_BYTES = 1024;
const RECORDS_PER_BATCH = 16;
const BATCHES_PER_VALIDATE = 64;
const MB = 1024 * 1024;

// Deterministic payload: uppercase letters from a seeded LCG, like kafka-producer-perf-test's random payload.
let state = 42;
function nextByte() {
  state = (Math.imul(state, 1103515245) + 12345) >>> 0;
  return 65 + ((state >>> 16) % 26);
}
const records = Array.from({ length: RECORDS_PER_BATCH }, (_, i) => ({
  key: Buffer.from(`key-${i}`),
  value: Buffer.from(Array.from({ length: RECORD_BYTES }, nextByte)),
  headers: [],
  timestamp: 1_700_000_000_000 + i,
}));
const payloadBytes = records.reduce((n, r) => n + r.key.length + r.value.length, 0);

/** Runs fn repeatedly for ~secondsPerCase; returns payload MB/s given payload bytes per call. */
function measure(fn, bytesPerCall) {
  for (let i = 0; i < 50; i++) fn(); // warm-up
  const deadline = process.hrtime.bigint() + BigInt(Math.round(secondsPerCase * 1e9));
  let calls = 0;
  const start = process.hrtime.bigint();
  let now = start;
  while (now < deadline) {
    for (let i = 0; i < 20; i++) fn();
    calls += 20;
    now = process.hrtime.bigint();
  }
  const seconds = Number(now - start) / 1e9;
  return (calls * bytesPerCall) / MB / seconds;
}

const results = [];
for (const compression of ['none', 'lz4', 'gzip']) {
  const input = { records, compression };
  const batch = encodeRecordBatch(input);
  const many = Buffer.concat(Array.from({ length: BATCHES_PER_VALIDATE }, () => batch));
  results.push({
    compression,
    batchBytes: batch.length,
    wireRatio: batch.length / payloadBytes,
    encodeMBps: measure(() => encodeRecordBatch(input), payloadBytes),
    decodeMBps: measure(() => decodeRecordBatches(batch), payloadBytes),
    validateMBps: measure(() => validateBatches(many), payloadBytes * BATCHES_PER_VALIDATE),
    produceValidateMBps: measure(() => {
      for (const header of validateBatches(many)) validateProducedBatch(many, header, { maxUncompressedBytes: MB });
    }, payloadBytes * BATCHES_PER_VALIDATE),
  });
}

if (asJson) {
  console.log(JSON.stringify(results));
} else {
  console.log(`record batch: ${RECORDS_PER_BATCH} x ${RECORD_BYTES} B records per batch, node ${process.version}, MB/s of payload`);
  console.log('codec   batch B   wire   encode MB/s   decode MB/s   validate MB/s   produce-validate MB/s');
  for (const r of results) {
    console.log(
      `${r.compression.padEnd(6)} ${String(r.batchBytes).padStart(8)}  ${r.wireRatio.toFixed(2).padStart(5)}  ${r.encodeMBps.toFixed(0).padStart(12)}  ${r.decodeMBps.toFixed(0).padStart(12)}  ${r.validateMBps.toFixed(0).padStart(14)}  ${r.produceValidateMBps.toFixed(0).padStart(22)}`,
    );
  }
}
