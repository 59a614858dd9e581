// Is anything listening on a broker's registered endpoint? The active controller asks when a broker's
// heartbeats stop for a moment (broker.liveness.probe.after.ms): a killed or crashed process leaves
// its port closed, and the kernel refuses the connection at once, so the controller can fence the
// broker in about a second instead of a whole broker.session.timeout.ms. Only a refusal is evidence:
// a stalled process (GC, SIGSTOP, a starved event loop) still has its listening socket, and the kernel
// completes the TCP handshake without it; a timeout or an unreachable host (a partition) proves nothing
// and leaves the broker to the session timeout.
import { connect } from 'node:net';

/** 'refused': nothing listens there; 'accepted': something does; 'unknown': no answer in time, or another error. */
export type ListenerProbeResult = 'refused' | 'accepted' | 'unknown';

export interface ListenerEndpoint {
  readonly host: string;
  readonly port: number;
}

/** Opens a TCP connection to `endpoint` and closes it at once (no bytes are sent). */
export function probeListener(endpoint: ListenerEndpoint, timeoutMs: number): Promise<ListenerProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host: endpoint.host, port: endpoint.port });
    let settled = false;
    const finish = (result: ListenerProbeResult): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => finish('unknown'), timeoutMs);
    timer.unref();
    socket.once('connect', () => finish('accepted'));
    socket.once('error', (err: NodeJS.ErrnoException) => finish(err.code === 'ECONNREFUSED' ? 'refused' : 'unknown'));
  });
}
