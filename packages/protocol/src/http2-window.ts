// HTTP/2 flow-control windows for every gRPC server and channel of ours, in one place.
//
// HTTP/2 lets a receiver accept at most its window of DATA before it sends WINDOW_UPDATE; the protocol's
// default (and Node's) is 65,535 bytes for each stream and for the connection. A 1 MiB produce request
// then crosses the connection in 16 window round trips, each a wake-up on both sides. With a 4 MiB window
// a sender writes a whole request (or fetch response) without waiting. Measured here with
// bench/grpc-window.bench.mjs (two busy cores, grpc-js 1.14, loopback, 1 MiB unary requests, 4 in flight):
// client → server 111–320 MB/s at 0.0031–0.0043 CPU-s per MB with 64 KiB, 407–542 MB/s at 0.0021–0.0027
// with 4 MiB; server → client within noise. A larger maxFrameSize made no measurable difference, so it is
// left at the default.
//
// What grpc-js honours (1.14): on a channel, 'grpc-node.flow_control_window' sets the stream window
// (SETTINGS_INITIAL_WINDOW_SIZE) and raises the connection window. On a server it offers no such option,
// so flowControlServer() sets both on each HTTP/2 session grpc-js accepts.
//
// Memory: a peer may have at most one window of unread DATA in flight per connection (the connection
// window bounds all of its streams together), so the cost is at most flowControlWindowBytes per connection.
import type * as http2 from 'node:http2';
import type * as grpc from '@grpc/grpc-js';

/** The receive window (per stream and per connection) we announce, bytes. */
export const DEFAULT_HTTP2_FLOW_CONTROL_WINDOW_BYTES = 4 * 1024 * 1024;
/** HTTP/2's own default and smallest useful value (RFC 9113 §6.9.2), bytes. */
export const HTTP2_FLOW_CONTROL_WINDOW_BYTES_MIN = 65_535;
/** HTTP/2's largest window (2^31 - 1, RFC 9113 §6.9.1), bytes. */
export const HTTP2_FLOW_CONTROL_WINDOW_BYTES_MAX = 2 ** 31 - 1;

function checkWindow(windowBytes: number): void {
  if (!Number.isInteger(windowBytes) || windowBytes < HTTP2_FLOW_CONTROL_WINDOW_BYTES_MIN || windowBytes > HTTP2_FLOW_CONTROL_WINDOW_BYTES_MAX) {
    throw new RangeError(`HTTP/2 flow-control window must be an integer in [${HTTP2_FLOW_CONTROL_WINDOW_BYTES_MIN}, ${HTTP2_FLOW_CONTROL_WINDOW_BYTES_MAX}] bytes, got ${windowBytes}`);
  }
}

/** Channel options that make a grpc-js channel announce `windowBytes` as its receive window. */
export function flowControlChannelOptions(windowBytes: number = DEFAULT_HTTP2_FLOW_CONTROL_WINDOW_BYTES): grpc.ChannelOptions {
  checkWindow(windowBytes);
  return { 'grpc-node.flow_control_window': windowBytes };
}

interface Http2ServerFactory {
  createHttp2Server?: (credentials: grpc.ServerCredentials) => http2.Http2Server;
}

/**
 * Makes `server` announce `windowBytes` as its receive window (each stream and the connection) on every
 * HTTP/2 session it accepts from now on. Call before bindAsync. grpc-js has no option for this, so this
 * hooks its (untyped) createHttp2Server; if a grpc-js upgrade removes that method this throws at startup
 * rather than silently serving with 64 KiB windows (test/http2-window.test.ts checks the window a
 * client sees).
 */
export function flowControlServer(server: grpc.Server, windowBytes: number = DEFAULT_HTTP2_FLOW_CONTROL_WINDOW_BYTES): void {
  checkWindow(windowBytes);
  const factory = server as unknown as Http2ServerFactory;
  const create = factory.createHttp2Server;
  if (typeof create !== 'function') throw new Error('grpc-js Server has no createHttp2Server: cannot set the HTTP/2 flow-control window');
  factory.createHttp2Server = function createTunedHttp2Server(this: grpc.Server, credentials) {
    const http2Server = create.call(this, credentials);
    http2Server.on('session', (session: http2.ServerHttp2Session) => {
      // A session torn down before its settings are sent throws; that connection is gone anyway.
      try {
        session.settings({ initialWindowSize: windowBytes });
        session.setLocalWindowSize(windowBytes);
      } catch {
        /* closed session: nothing to tune */
      }
    });
    return http2Server;
  };
}
