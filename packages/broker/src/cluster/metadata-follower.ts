// MetadataFollower: keeps this broker's metadata image in step with the committed metadata log. It
// streams WatchMetadata from one controller voter at a time (any voter serves its committed log),
// applies snapshots and batches with the pure applyRecords (the controllers' state machine), and hands each change to
// `onChange` before the next event is applied (events are processed strictly in order). A broken
// stream is reopened on the next voter from the first offset not yet applied.
import * as grpc from '@grpc/grpc-js';
import type { Logger } from 'pino';
import { applyRecords, emptyImage, imageFromSnapshotData, recordFromWire, snapshotFromWire, type MetadataImage } from '@tributary/controller/metadata';
import { tributary } from '@tributary/protocol';
import { ApiError } from '../errors.js';
import type { ControllerInfo } from '../metadata-view.js';
import type { ControllerChannel } from './controller-channel.js';

import pb = tributary.internal.v1;

/** Pause before reopening a broken watch stream on the next voter. */
export const DEFAULT_WATCH_RETRY_BACKOFF_MS = 100;
/** Events received but not yet applied; the stream is paused beyond this. */
export const DEFAULT_WATCH_PENDING_EVENTS_MAX = 1_000;

export type MetadataChangeHandler = (before: MetadataImage, after: MetadataImage) => Promise<void>;

export interface MetadataFollowerOptions {
  readonly brokerId: number;
  readonly clusterId: string;
  readonly channel: ControllerChannel;
  readonly onChange: MetadataChangeHandler;
  readonly logger: Logger;
  readonly retryBackoffMs?: number;
}

interface OffsetWaiter {
  readonly offset: number;
  readonly resolve: () => void;
}

export class MetadataFollower {
  private imageValue: MetadataImage;
  private applied = 0;
  private controllerValue: ControllerInfo = { leaderId: -1, term: 0 };
  private call: grpc.ClientReadableStream<pb.MetadataEvent> | undefined;
  private nextVoter: number;
  private closed = false;
  private readonly pending: pb.MetadataEvent[] = [];
  private processing = false;
  private waiters: OffsetWaiter[] = [];
  private caughtUpOnce = false;
  private readonly caughtUp: Promise<void>;
  private resolveCaughtUp!: () => void;
  private retryTimer: NodeJS.Timeout | undefined;
  private failed: unknown;

  constructor(private readonly options: MetadataFollowerOptions) {
    this.imageValue = emptyImage(options.clusterId);
    this.nextVoter = Math.max(0, options.channel.voters.indexOf(options.brokerId));
    this.caughtUp = new Promise((resolve) => {
      this.resolveCaughtUp = resolve;
    });
  }

  get image(): MetadataImage {
    return this.imageValue;
  }

  /** The highest metadata offset applied (reported in heartbeats). */
  get appliedOffset(): number {
    return this.applied;
  }

  get controller(): ControllerInfo {
    return this.controllerValue;
  }

  start(): void {
    this.open();
  }

  /** Resolves once the image has caught up with the committed log as of the first event received. */
  whenCaughtUp(): Promise<void> {
    return this.caughtUp;
  }

  /** Resolves once `offset` is applied here; rejects with REQUEST_TIMED_OUT after `timeoutMs`. */
  waitForOffset(offset: number, timeoutMs: number): Promise<void> {
    if (this.applied >= offset) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new ApiError('REQUEST_TIMED_OUT', `metadata offset ${offset} not applied within ${timeoutMs} ms (at ${this.applied})`));
      }, timeoutMs);
      const waiter: OffsetWaiter = { offset, resolve: () => { clearTimeout(timer); resolve(); } };
      this.waiters.push(waiter);
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.retryTimer);
    this.call?.cancel();
    this.call = undefined;
  }

  private open(): void {
    if (this.closed) return;
    const voters = this.options.channel.voters;
    // Any voter will do: start with ourselves (combined mode), then rotate on failures.
    const voter = voters[this.nextVoter % voters.length]!;
    this.nextVoter++;
    const call = this.options.channel.client(voter).watchMetadata({
      clusterId: this.options.channel.clusterId, brokerId: this.options.brokerId, fromOffset: this.applied + 1,
    });
    this.call = call;
    this.options.logger.debug({ voter, fromOffset: this.applied + 1 }, 'metadata watch opened');
    call.on('data', (event: pb.MetadataEvent) => {
      if (call !== this.call) return;
      this.pending.push(event);
      if (this.pending.length >= DEFAULT_WATCH_PENDING_EVENTS_MAX) call.pause();
      void this.drain();
    });
    const reopen = (err: unknown): void => {
      if (call !== this.call || this.closed) return;
      this.call = undefined;
      this.options.logger.debug({ voter, err: (err as Error | undefined)?.message }, 'metadata watch ended; reopening on another voter');
      this.retryTimer = setTimeout(() => this.open(), this.options.retryBackoffMs ?? DEFAULT_WATCH_RETRY_BACKOFF_MS);
      this.retryTimer.unref();
    };
    call.on('error', reopen);
    call.on('end', () => reopen(undefined));
  }

  private async drain(): Promise<void> {
    if (this.processing) return;
    this.processing = true;
    try {
      while (this.pending.length > 0 && !this.closed && this.failed === undefined) {
        const event = this.pending.shift()!;
        await this.handle(event);
        if (this.pending.length < DEFAULT_WATCH_PENDING_EVENTS_MAX / 2) this.call?.resume();
      }
    } catch (err) {
      // A record that cannot be applied is a broken invariant: stop following loudly.
      this.failed = err;
      this.options.logger.fatal({ err }, 'metadata follower failed to apply the metadata log');
      this.close();
    } finally {
      this.processing = false;
    }
  }

  private async handle(event: pb.MetadataEvent): Promise<void> {
    if (event.controller !== null && event.controller !== undefined) {
      this.controllerValue = {
        leaderId: event.controller.leaderId ?? -1, term: Number(event.controller.term),
        unreachableVoters: [...(event.controller.unreachableVoters ?? [])],
      };
      this.options.channel.noteLeader(event.controller);
    }
    const before = this.imageValue;
    let next = before;
    let offset = this.applied;
    switch (event.body) {
      case 'snapshot': {
        const snap = snapshotFromWire(event.snapshot!);
        if (snap.clusterId !== this.options.clusterId) throw new Error(`metadata snapshot of cluster ${JSON.stringify(snap.clusterId)}, not ${JSON.stringify(this.options.clusterId)}`);
        next = imageFromSnapshotData(snap);
        offset = snap.lastOffset;
        this.options.logger.info({ offset }, 'metadata image replaced by a snapshot');
        break;
      }
      case 'entry': {
        const e = event.entry!;
        if (Number(e.offset) <= this.applied) return; // already applied (a reopened stream)
        next = applyRecords(before, (e.batch?.records ?? []).map((r, i) => recordFromWire(r, `entry ${Number(e.offset)} records[${i}]`)), Number(e.offset));
        offset = Number(e.offset);
        break;
      }
      case 'progress':
        offset = Math.max(this.applied, Number(event.committedOffset));
        break;
      default:
        return;
    }
    if (next !== before) {
      this.imageValue = next;
      await this.options.onChange(before, next);
    }
    this.applied = offset;
    if (!this.caughtUpOnce && event.body === 'progress') {
      this.caughtUpOnce = true;
      this.resolveCaughtUp();
    }
    const ready = this.waiters.filter((w) => w.offset <= this.applied);
    if (ready.length > 0) {
      this.waiters = this.waiters.filter((w) => w.offset > this.applied);
      for (const w of ready) w.resolve();
    }
  }
}
