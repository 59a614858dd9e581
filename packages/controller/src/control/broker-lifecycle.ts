// Broker registration, heartbeats, fencing and controlled shutdown, as pure commands.
//
// Broker epoch: the offset of the broker's RegisterBroker record. A pure command cannot know the Raft
// index its records will commit at, so it writes brokerEpoch 0 and applyRecords stamps the batch's
// offset (the same on every node); the shell answers the broker with the committed offset
// (response.kind === 'registered'). Re-registering with the same incarnation id is an idempotent
// retry: no records, the current epoch. A new incarnation (a restart) gets a new epoch and starts
// fenced, and — because a restarted broker may have lost an unflushed tail — leaves every ISR and
// leadership in the same batch, like a fence. The last-ISR rule keeps it as the sole member of
// partitions nobody else can lead; after an unclean shutdown those become recovering (no ordinary
// election: the longest replica log leads once every replica has reported, see partition-election.ts).
// A new incarnation also starts with no offline replicas (its heartbeats report the logs that still fail).
import type { BrokerImage, MetadataImage } from '../metadata/metadata-image.js';
import type { BrokerEndpoint, MetadataRecord } from '../metadata/metadata-records.js';
import type { ControllerContext } from './controller-config.js';
import { type ControllerError, type ControllerResult, controllerError } from './controller-result.js';
import { changesForJoining, changesForLeaving, changesForOfflineReplicas, changesForRecovery, clearOfflineReplicas, markUncleanRestart, type ReplicaRef } from './cluster-elections.js';
import type { ReplicaLogEndLookup } from './replica-log-reports.js';

export interface RegisterBrokerRequest {
  readonly brokerId: number;
  readonly incarnationId: string;
  readonly endpoint: BrokerEndpoint;
  readonly rack: string | undefined;
  readonly roles: readonly string[];
  /** The broker's previous run ended in a clean shutdown (every log flushed); false after a crash or on a fresh disk. */
  readonly cleanShutdown: boolean;
}

export type RegisterBrokerResponse =
  | { readonly ok: true; readonly kind: 'registered' } // epoch = the offset the records commit at
  | { readonly ok: true; readonly kind: 'unchanged'; readonly brokerEpoch: number }
  | { readonly ok: false; readonly error: ControllerError };

export const BROKER_ROLES: ReadonlySet<string> = new Set(['broker', 'controller']);

export function registerBroker(image: MetadataImage, req: RegisterBrokerRequest, ctx: ControllerContext): ControllerResult<RegisterBrokerResponse> {
  const bad = (message: string): ControllerResult<RegisterBrokerResponse> => ({ records: [], response: { ok: false, error: controllerError('INVALID_REQUEST', message) } });
  if (!Number.isInteger(req.brokerId) || req.brokerId < 0 || req.brokerId > 0x7fff_ffff) return bad(`broker_id: ${req.brokerId} is not a non-negative int32`);
  if (req.incarnationId.length === 0 || req.incarnationId.length > 256) return bad('incarnation_id: must be 1..256 characters');
  if (req.endpoint.host.length === 0) return bad('endpoint.host: empty');
  if (!Number.isInteger(req.endpoint.port) || req.endpoint.port <= 0 || req.endpoint.port > 65_535) return bad(`endpoint.port: ${req.endpoint.port} is not a port`);
  const unknownRole = req.roles.find((r) => !BROKER_ROLES.has(r));
  if (unknownRole !== undefined) return bad(`roles: unknown role ${JSON.stringify(unknownRole)}`);
  const existing = image.brokers.get(req.brokerId);
  if (existing !== undefined && existing.incarnationId === req.incarnationId) {
    return { records: [], response: { ok: true, kind: 'unchanged', brokerEpoch: existing.brokerEpoch } };
  }
  const leaving = existing === undefined ? [] : changesForLeaving(image, new Set([req.brokerId]), ctx.config);
  const marked = req.cleanShutdown ? leaving : markUncleanRestart(image, req.brokerId, leaving);
  const records: MetadataRecord[] = existing === undefined ? marked : clearOfflineReplicas(image, req.brokerId, marked);
  records.push({
    type: 'registerBroker', brokerId: req.brokerId, incarnationId: req.incarnationId, brokerEpoch: 0,
    endpoint: { host: req.endpoint.host, port: req.endpoint.port }, rack: req.rack === '' ? undefined : req.rack, roles: [...req.roles], fenced: true,
  });
  return { records, response: { ok: true, kind: 'registered' } };
}

export interface BrokerHeartbeatRequest {
  readonly brokerId: number;
  readonly brokerEpoch: number;
  /** The offset of the last metadata batch the broker has applied. */
  readonly metadataOffset: number;
  readonly wantShutDown: boolean;
  /** Hosted replicas whose log failed or could not open in this run (absent: none). */
  readonly offlineReplicas?: readonly ReplicaRef[];
}

export type BrokerHeartbeatResponse =
  | {
    readonly ok: true;
    /** As of after the records commit. */
    readonly isFenced: boolean;
    readonly isCaughtUp: boolean;
    /** Controlled shutdown done: the broker leads nothing and may exit. */
    readonly shouldShutDown: boolean;
  }
  | { readonly ok: false; readonly error: ControllerError };

/** The broker named by a request, or the error for a stale or unknown one. */
export function requireCurrentBroker(image: MetadataImage, brokerId: number, brokerEpoch: number): BrokerImage | ControllerError {
  const b = image.brokers.get(brokerId);
  if (b === undefined) return controllerError('BROKER_ID_NOT_REGISTERED', `broker ${brokerId} is not registered`);
  if (b.brokerEpoch !== brokerEpoch) return controllerError('STALE_BROKER_EPOCH', `broker ${brokerId} epoch ${brokerEpoch} is not the current ${b.brokerEpoch}`);
  return b;
}

function isBroker(x: BrokerImage | ControllerError): x is BrokerImage {
  return 'brokerId' in x;
}

/**
 * A heartbeat: first marks the replicas it reports offline (leadership and ISR membership of those
 * partitions move away; such a heartbeat does nothing else, the next one goes on); then unfences a
 * fenced broker once it has applied the metadata up to its own registration
 * (then elects it where it is the only eligible leader of an offline partition), or runs its
 * controlled shutdown; with `replicaLogEnds` (the reports, this heartbeat's included) it also runs
 * the recovery elections this broker's report may complete. Records nothing when nothing changes.
 * The shell notes the heartbeat time.
 */
export function brokerHeartbeat(image: MetadataImage, req: BrokerHeartbeatRequest, ctx: ControllerContext, replicaLogEnds?: ReplicaLogEndLookup): ControllerResult<BrokerHeartbeatResponse> {
  const b = requireCurrentBroker(image, req.brokerId, req.brokerEpoch);
  if (!isBroker(b)) return { records: [], response: { ok: false, error: b } };
  // Caught up = it has applied its own registration record (Kafka's rule, KIP-631): so it has every
  // record committed before it registered, which is what it needs to act on its roles; what came after
  // streams in like for any broker. (Comparing with the latest offset made each unfence record put the
  // other starting brokers behind again: they were unfenced one heartbeat apart.)
  const isCaughtUp = req.metadataOffset >= b.brokerEpoch;
  // Before anything that elects: an unfence must not make a replica whose log failed a leader.
  const offline = changesForOfflineReplicas(image, b.brokerId, req.offlineReplicas ?? [], ctx.config);
  if (offline.length > 0) return { records: offline, response: { ok: true, isFenced: b.fenced, isCaughtUp, shouldShutDown: false } };
  if (req.wantShutDown || b.inControlledShutdown) {
    const r = controlledShutdown(image, { brokerId: b.brokerId, brokerEpoch: b.brokerEpoch }, ctx);
    return { records: r.records, response: { ok: true, isFenced: true, isCaughtUp, shouldShutDown: r.response.ok && r.response.shouldShutDown } };
  }
  if (b.fenced && isCaughtUp) {
    const records: MetadataRecord[] = [{ type: 'unfenceBroker', brokerId: b.brokerId, brokerEpoch: b.brokerEpoch }];
    records.push(...changesForJoining(image, new Set([b.brokerId]), ctx.config, replicaLogEnds));
    return { records, response: { ok: true, isFenced: false, isCaughtUp, shouldShutDown: false } };
  }
  const recovery = b.fenced || replicaLogEnds === undefined ? [] : changesForRecovery(image, b.brokerId, ctx.config, replicaLogEnds);
  return { records: recovery, response: { ok: true, isFenced: b.fenced, isCaughtUp, shouldShutDown: false } };
}

export interface ControlledShutdownRequest {
  readonly brokerId: number;
  readonly brokerEpoch: number;
}

export type ControlledShutdownResponse =
  | { readonly ok: true; readonly shouldShutDown: boolean }
  | { readonly ok: false; readonly error: ControllerError };

/**
 * Controlled shutdown, one batch: BrokerShutdown, then leadership moved away and the broker out of
 * every ISR (the last-ISR rule aside: such a partition goes offline, as it would on a crash), then —
 * leading nothing — FenceBroker. The broker may exit once this commits.
 */
export function controlledShutdown(image: MetadataImage, req: ControlledShutdownRequest, ctx: ControllerContext): ControllerResult<ControlledShutdownResponse> {
  const b = requireCurrentBroker(image, req.brokerId, req.brokerEpoch);
  if (!isBroker(b)) return { records: [], response: { ok: false, error: b } };
  const records: MetadataRecord[] = [];
  if (!b.inControlledShutdown) records.push({ type: 'brokerShutdown', brokerId: b.brokerId, brokerEpoch: b.brokerEpoch });
  records.push(...changesForLeaving(image, new Set([b.brokerId]), ctx.config));
  if (!b.fenced) records.push({ type: 'fenceBroker', brokerId: b.brokerId, brokerEpoch: b.brokerEpoch });
  return { records, response: { ok: true, shouldShutDown: true } };
}

export interface FenceBrokersResponse {
  /** The brokers this batch fences (already fenced or unknown ones are skipped). */
  readonly fenced: readonly number[];
}

/** Fences `brokerIds`: leadership moves to usable ISR members (leaderEpoch + 1), out of every ISR. */
export function fenceBrokers(image: MetadataImage, brokerIds: Iterable<number>, ctx: ControllerContext): ControllerResult<FenceBrokersResponse> {
  const leaving = new Set<number>();
  for (const id of brokerIds) {
    const b = image.brokers.get(id);
    if (b !== undefined && !b.fenced) leaving.add(id);
  }
  if (leaving.size === 0) return { records: [], response: { fenced: [] } };
  const records: MetadataRecord[] = changesForLeaving(image, leaving, ctx.config);
  const fenced = [...leaving].sort((a, b) => a - b);
  for (const id of fenced) records.push({ type: 'fenceBroker', brokerId: id, brokerEpoch: image.brokers.get(id)!.brokerEpoch });
  return { records, response: { fenced } };
}

export interface SessionState {
  /** The last heartbeat per broker (the shell's clock); brokers without one are not judged. */
  readonly lastHeartbeatMs: ReadonlyMap<number, number>;
  readonly nowMs: number;
  readonly sessionTimeoutMs: number;
  /**
   * Brokers whose listener refused a connection after their last heartbeat (the process is gone: see
   * the controller's listener-probe.ts); they expire at once. Absent: none.
   */
  readonly goneBrokers?: ReadonlySet<number>;
}

/** Unfenced brokers whose last heartbeat is older than the session timeout, or that are known to be gone. */
export function expiredBrokers(image: MetadataImage, sessions: SessionState): number[] {
  const out: number[] = [];
  for (const b of image.brokers.values()) {
    const last = sessions.lastHeartbeatMs.get(b.brokerId);
    const timedOut = last !== undefined && sessions.nowMs - last > sessions.sessionTimeoutMs;
    if (!b.fenced && (timedOut || sessions.goneBrokers?.has(b.brokerId) === true)) out.push(b.brokerId);
  }
  return out.sort((a, b) => a - b);
}

/** fenceBrokers(expiredBrokers(...)). */
export function fenceStaleBrokers(image: MetadataImage, sessions: SessionState, ctx: ControllerContext): ControllerResult<FenceBrokersResponse> {
  return fenceBrokers(image, expiredBrokers(image, sessions), ctx);
}
