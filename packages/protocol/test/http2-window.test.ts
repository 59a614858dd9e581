import * as http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { afterEach, describe, expect, it } from 'vitest';
import {
  DEFAULT_HTTP2_FLOW_CONTROL_WINDOW_BYTES, HTTP2_FLOW_CONTROL_WINDOW_BYTES_MAX, HTTP2_FLOW_CONTROL_WINDOW_BYTES_MIN,
  flowControlChannelOptions, flowControlServer,
} from '../src/index.js';

const cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
});

async function boundServer(windowBytes?: number): Promise<number> {
  const server = new grpc.Server();
  if (windowBytes !== undefined) flowControlServer(server, windowBytes);
  cleanups.push(() => server.forceShutdown());
  return new Promise((resolve, reject) => {
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, port) => (err ? reject(err) : resolve(port)));
  });
}

/** What the server at `port` announces to a raw HTTP/2 client: stream window (SETTINGS) and connection window. */
async function announcedWindows(port: number): Promise<{ streamBytes: number; connectionBytes: number }> {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  cleanups.push(() => session.destroy());
  await new Promise<void>((resolve, reject) => {
    session.once('remoteSettings', () => resolve());
    session.once('error', reject);
  });
  // The server tunes a session as it accepts it, before reading anything from the client, so its SETTINGS
  // and WINDOW_UPDATE precede the answer to this PING: once the PING is answered both have been applied.
  await new Promise<void>((resolve, reject) => session.ping((err) => (err ? reject(err) : resolve())));
  return { streamBytes: session.remoteSettings.initialWindowSize ?? -1, connectionBytes: session.state.remoteWindowSize ?? -1 };
}

describe('HTTP/2 flow-control window', () => {
  it('a grpc-js server announces the window set by flowControlServer, per stream and per connection', async () => {
    expect(await announcedWindows(await boundServer(DEFAULT_HTTP2_FLOW_CONTROL_WINDOW_BYTES)))
      .toEqual({ streamBytes: DEFAULT_HTTP2_FLOW_CONTROL_WINDOW_BYTES, connectionBytes: DEFAULT_HTTP2_FLOW_CONTROL_WINDOW_BYTES });
    expect(await announcedWindows(await boundServer(1_000_000))).toEqual({ streamBytes: 1_000_000, connectionBytes: 1_000_000 });
  });

  it('without it grpc-js announces HTTP/2\'s 64 KiB default (what the hook changes)', async () => {
    expect(await announcedWindows(await boundServer())).toEqual({ streamBytes: 65_535, connectionBytes: 65_535 });
  });

  it('channels ask grpc-js for the window through grpc-node.flow_control_window', () => {
    expect(flowControlChannelOptions()).toEqual({ 'grpc-node.flow_control_window': DEFAULT_HTTP2_FLOW_CONTROL_WINDOW_BYTES });
    expect(flowControlChannelOptions(HTTP2_FLOW_CONTROL_WINDOW_BYTES_MIN)).toEqual({ 'grpc-node.flow_control_window': 65_535 });
  });

  it('refuses a window outside HTTP/2\'s range', () => {
    for (const bad of [HTTP2_FLOW_CONTROL_WINDOW_BYTES_MIN - 1, HTTP2_FLOW_CONTROL_WINDOW_BYTES_MAX + 1, 1.5]) {
      expect(() => flowControlChannelOptions(bad)).toThrow(RangeError);
      expect(() => flowControlServer(new grpc.Server(), bad)).toThrow(RangeError);
    }
  });
});
