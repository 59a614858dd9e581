import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { protoPath as HEALTH_PROTO_PATH } from 'grpc-health-check';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { batchOf, createTopic, produceBatch, startTestNode, type TestNode } from './helpers.js';

describe('health, reflection and HTTP', () => {
  let t: TestNode;
  beforeAll(async () => {
    t = await startTestNode({ set: { 'http.listen': '127.0.0.1:0' } });
  });
  afterAll(async () => {
    await t.close();
  });

  it('answers grpc.health.v1 Check with SERVING', async () => {
    const definition = protoLoader.loadSync(HEALTH_PROTO_PATH, { enums: String });
    const Health = (grpc.loadPackageDefinition(definition) as unknown as { grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } } }).grpc.health.v1.Health;
    const client = new Health(t.node.address, grpc.credentials.createInsecure());
    const check = (service: string) => new Promise<{ status: string }>((resolve, reject) => {
      (client as unknown as { check(r: object, cb: (e: Error | null, r: { status: string }) => void): void })
        .check({ service }, (err, res) => (err ? reject(err) : resolve(res)));
    });
    expect((await check('')).status).toBe('SERVING');
    expect((await check('tributary.v1.Broker')).status).toBe('SERVING');
    client.close();
  });

  it('lists services through server reflection', async () => {
    const definition = protoLoader.loadSync('grpc/reflection/v1alpha/reflection.proto', {
      includeDirs: [new URL('../../../node_modules/@grpc/reflection/build/proto/', import.meta.url).pathname],
    });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as { grpc: { reflection: { v1alpha: { ServerReflection: grpc.ServiceClientConstructor } } } };
    const client = new pkg.grpc.reflection.v1alpha.ServerReflection(t.node.address, grpc.credentials.createInsecure());
    const stream = (client as unknown as { serverReflectionInfo(): grpc.ClientDuplexStream<object, { listServicesResponse?: { service: { name: string }[] } }> }).serverReflectionInfo();
    const services = await new Promise<string[]>((resolve, reject) => {
      stream.on('data', (res) => resolve((res.listServicesResponse?.service ?? []).map((s) => s.name)));
      stream.on('error', reject);
      stream.write({ listServices: '' });
    });
    stream.end();
    client.close();
    expect(services).toEqual(expect.arrayContaining(['tributary.v1.Broker', 'tributary.v1.Admin', 'grpc.health.v1.Health']));
  });

  it('describes a service through reflection (what grpcurl needs to call it): the file with its methods', async () => {
    const definition = protoLoader.loadSync('grpc/reflection/v1alpha/reflection.proto', {
      includeDirs: [new URL('../../../node_modules/@grpc/reflection/build/proto/', import.meta.url).pathname],
    });
    const pkg = grpc.loadPackageDefinition(definition) as unknown as { grpc: { reflection: { v1alpha: { ServerReflection: grpc.ServiceClientConstructor } } } };
    const client = new pkg.grpc.reflection.v1alpha.ServerReflection(t.node.address, grpc.credentials.createInsecure());
    type Answer = { fileDescriptorResponse?: { fileDescriptorProto: Buffer[] }; errorResponse?: { errorMessage: string } };
    const stream = (client as unknown as { serverReflectionInfo(): grpc.ClientDuplexStream<object, Answer> }).serverReflectionInfo();
    const answer = await new Promise<Answer>((resolve, reject) => {
      stream.on('data', resolve);
      stream.on('error', reject);
      stream.write({ fileContainingSymbol: 'tributary.v1.Broker' });
    });
    stream.end();
    client.close();
    expect(answer.errorResponse).toBeUndefined();
    const files = (answer.fileDescriptorResponse?.fileDescriptorProto ?? []).map((bytes) => descriptor.FileDescriptorProto.decode(bytes) as unknown as {
      package: string; service: { name: string; method: { name: string }[] }[];
    });
    const broker = files.flatMap((f) => f.service.map((s) => ({ pkg: f.package, ...s }))).find((s) => s.pkg === 'tributary.v1' && s.name === 'Broker');
    expect(broker?.method.map((m) => m.name)).toEqual(expect.arrayContaining(['Produce', 'Fetch', 'Metadata', 'ListOffsets', 'InitProducerId']));
    // Epochs a client may leave out are proto3 `optional`: the served descriptor gives them presence (a
    // one-field oneof), so grpcurl and clients built from it send nothing (= unknown) rather than 0.
    type Field = { name: string; oneofIndex?: number };
    const messages = files.flatMap((f) => (f as unknown as { messageType?: { name: string; field: Field[] }[] }).messageType ?? []);
    const fetchFields = messages.find((m) => m.name === 'FetchPartition')?.field ?? [];
    const withPresence = (name: string, camel: string): boolean => fetchFields.some((f) => (f.name === name || f.name === camel) && Object.prototype.hasOwnProperty.call(f, 'oneofIndex'));
    expect(withPresence('last_fetched_epoch', 'lastFetchedEpoch')).toBe(true);
    expect(withPresence('current_leader_epoch', 'currentLeaderEpoch')).toBe(true);
    expect(withPresence('fetch_offset', 'fetchOffset')).toBe(false);
  });

  it('serves /metrics from the node registry, /healthz and /readyz', async () => {
    await createTopic(t, 'm');
    await produceBatch(t, 'm', 0, batchOf(['a', 'b']));
    const base = `http://${t.node.httpAddress}`;
    const metrics = await (await fetch(`${base}/metrics`)).text();
    expect(metrics).toMatch(/tributary_requests_total\{api="produce",result="ok",node_id="1"\} 1/);
    expect(metrics).toMatch(/tributary_partition_high_watermark\{topic="m",partition="0",node_id="1"\} 2/);
    expect(metrics).toMatch(/tributary_bytes_in_total\{topic="m",node_id="1"\} \d+/);
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    expect((await fetch(`${base}/nope`)).status).toBe(404);
  });
});
