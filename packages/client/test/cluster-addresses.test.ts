import { describe, expect, it } from 'vitest';
import { ADDRESS_SUSPECT_MS, channelOptions, orderBySuspicion } from '../src/cluster.js';

describe('orderBySuspicion', () => {
  const addresses = ['a:1', 'b:1', 'c:1'];

  it('keeps the given order when nothing failed', () => {
    expect(orderBySuspicion(addresses, new Map(), 1_000)).toEqual(addresses);
  });

  it('tries a recently failed address last, the longest-ago failure first among the suspects', () => {
    const failed = new Map([['a:1', 900], ['b:1', 500]]);
    expect(orderBySuspicion(addresses, failed, 1_000)).toEqual(['c:1', 'b:1', 'a:1']);
  });

  it('forgives a failure older than ADDRESS_SUSPECT_MS', () => {
    const failed = new Map([['a:1', 0]]);
    expect(orderBySuspicion(addresses, failed, ADDRESS_SUSPECT_MS)).toEqual(addresses);
    expect(orderBySuspicion(addresses, failed, ADDRESS_SUSPECT_MS - 1)).toEqual(['b:1', 'c:1', 'a:1']);
  });
});

describe('channelOptions', () => {
  it('bounds grpc-js reconnect backoff by retry.backoff.ms / retry.backoff.max.ms', () => {
    const options = channelOptions({ retryBackoffMs: 100, retryBackoffMaxMs: 1_000, http2FlowControlWindowBytes: 65_535 });
    expect(options['grpc.initial_reconnect_backoff_ms']).toBe(100);
    expect(options['grpc.max_reconnect_backoff_ms']).toBe(1_000);
  });

  it('announces http2.flow.control.window.bytes as the HTTP/2 receive window', () => {
    expect(channelOptions({ retryBackoffMs: 100, retryBackoffMaxMs: 1_000, http2FlowControlWindowBytes: 4 << 20 })['grpc-node.flow_control_window']).toBe(4 << 20);
  });
});
