// What a controller voter needs from the outside world, as ports: its durable Raft log and a transport to
// the other voters. The QuorumController calls only these, so its command queue and Raft driver can run
// over in-memory storage and a simulated network; the runtime passes the real adapters
// (fileGrpcQuorumIo: FileRaftStorage under <data.dir>/__cluster_metadata_raft, and the gRPC Raft service).
import type * as grpc from '@grpc/grpc-js';
import type { Logger as RaftLogger } from '@tributary/nraft';
import { FileRaftStorage } from '@tributary/nraft/adapters';
import { join } from 'node:path';
import { GrpcRaftTransport, addRaftService } from '../raft/grpc-raft-transport.js';
import type { RaftDriverStorage } from '../raft/raft-driver.js';
import type { RaftTransport } from '../raft/raft-transport.js';
import { probeListener, type ListenerEndpoint, type ListenerProbeResult } from './listener-probe.js';

export const RAFT_DIR = '__cluster_metadata_raft';

export interface QuorumIo {
  /**
   * Opens the durable metadata log. Called once per driver: a restarted driver (after a failure) opens
   * it again, after the failed driver closed its storage.
   */
  openRaftStorage(args: { readonly voters: readonly number[]; readonly logger: RaftLogger }): Promise<RaftDriverStorage>;
  /** A transport for a new driver; the previous driver's is closed by then. */
  openRaftTransport(args: { readonly logger: RaftLogger }): RaftTransport;
  /**
   * Whether anything listens on a broker's endpoint (listener-probe.ts). Absent: the controller never
   * probes, and a broker that stopped heartbeating is fenced only when its session times out.
   */
  probeBrokerListener?(endpoint: ListenerEndpoint, timeoutMs: number): Promise<ListenerProbeResult>;
}

export interface FileGrpcQuorumIoOptions {
  readonly nodeId: number;
  readonly clusterId: string;
  /** Voter id → host:port, this node included. */
  readonly voters: ReadonlyMap<number, string>;
  /** The log lives in `<dataDir>/__cluster_metadata_raft`. */
  readonly dataDir: string;
  /** false skips fsync of the metadata log (tests only). */
  readonly fsync: boolean;
  /** The not yet bound server the Raft service is registered on (the caller binds it). */
  readonly server: grpc.Server;
  readonly logger: RaftLogger;
  /**
   * Wraps the metadata log storage each time a driver opens it. A test seam for fault injection
   * (a storage that fails on demand); production passes nothing.
   */
  readonly wrapRaftStorage?: (storage: RaftDriverStorage) => RaftDriverStorage;
}

/** The real adapters: file storage and the gRPC Raft service and transport. Registers the service now. */
export function fileGrpcQuorumIo(o: FileGrpcQuorumIoOptions): QuorumIo {
  let current: GrpcRaftTransport | undefined;
  // The service outlives any one driver and transport: it hands messages to the current one, and only
  // from the other voters.
  addRaftService(o.server, {
    clusterId: o.clusterId, nodeId: o.nodeId, logger: o.logger,
    knowsPeer: (id) => id !== o.nodeId && o.voters.has(id),
    deliver: (m) => current?.deliver(m),
  });
  return {
    async openRaftStorage({ voters, logger }) {
      const opened: RaftDriverStorage = await FileRaftStorage.open({
        dir: join(o.dataDir, RAFT_DIR), fsync: o.fsync, logger,
        confState: { voters: [...voters], learners: [] },
      });
      return o.wrapRaftStorage?.(opened) ?? opened;
    },
    openRaftTransport({ logger }) {
      current = new GrpcRaftTransport({
        nodeId: o.nodeId, clusterId: o.clusterId, logger,
        peers: new Map([...o.voters].filter(([id]) => id !== o.nodeId)),
        reconnectBackoffMinMs: 20, reconnectBackoffMaxMs: 500,
      });
      return current;
    },
    probeBrokerListener: probeListener,
  };
}
