// Consumer group administration (the CLI's `group` commands): list, describe, committed offsets,
// offset reset (commits with generation -1, accepted only while the group is Empty), delete.
import { tributary } from '@tributary/protocol';
import { Cluster } from './cluster.js';
import { parseAdminConfig, type AdminConfig, type AdminOptions } from './config.js';
import { errorFromWire } from './errors.js';
import { GroupRpc } from './group-rpc.js';
import { SILENT_LOGGER } from './logger.js';

export interface GroupListing {
  readonly groupId: string;
  readonly state: string;
}

export interface GroupMemberDescription {
  readonly memberId: string;
  readonly groupInstanceId: string | null;
  readonly clientId: string;
  readonly assignment: readonly { readonly topic: string; readonly partition: number }[];
}

export interface GroupDescription {
  readonly groupId: string;
  /** Empty | PreparingRebalance | CompletingRebalance | Stable | Dead (Dead = no such group). */
  readonly state: string;
  readonly protocolName: string;
  readonly generation: number;
  readonly members: readonly GroupMemberDescription[];
}

export interface GroupOffset {
  readonly topic: string;
  readonly partition: number;
  /** The next offset to read. */
  readonly offset: number;
  readonly metadata: string;
}

export class GroupAdmin {
  readonly config: AdminConfig;
  private readonly cluster: Cluster;
  private readonly rpcs = new Map<string, GroupRpc>();

  constructor(options: AdminOptions = {}) {
    this.config = parseAdminConfig(options);
    this.cluster = new Cluster(this.config, SILENT_LOGGER, 'group admin');
  }

  private rpc(groupId: string): GroupRpc {
    let r = this.rpcs.get(groupId);
    if (r === undefined) this.rpcs.set(groupId, (r = new GroupRpc(this.cluster, groupId)));
    return r;
  }

  private options<Res>(errorOf: (r: Res) => number) {
    return { deadlineMs: Date.now() + this.config.defaultApiTimeoutMs, requestTimeoutMs: this.config.requestTimeoutMs, errorOf, isClosed: () => this.cluster.isClosed };
  }

  /** Groups of every broker (each lists the groups it coordinates). */
  async listGroups(): Promise<GroupListing[]> {
    await this.cluster.refresh();
    const any = new GroupRpc(this.cluster, '');
    const out = new Map<string, GroupListing>();
    for (const address of this.cluster.anyAddresses()) {
      const response = await any.callAt<tributary.v1.ListGroupsResponse>(address, 'listGroups', {}, this.config.requestTimeoutMs).catch(() => undefined);
      for (const g of response?.groups ?? []) out.set(g.groupId ?? '', { groupId: g.groupId ?? '', state: g.state ?? '' });
    }
    return [...out.values()].sort((a, b) => (a.groupId < b.groupId ? -1 : 1));
  }

  async describeGroup(groupId: string): Promise<GroupDescription> {
    const response = await this.rpc(groupId).call<tributary.v1.DescribeGroupsResponse>('describeGroups', { groupIds: [groupId] },
      this.options<tributary.v1.DescribeGroupsResponse>((r) => r.groups[0]?.error?.code ?? 0));
    const g = response.groups[0];
    const code = g?.error?.code ?? 0;
    if (g === undefined || code !== 0) throw errorFromWire(code, g?.error?.message ?? 'no answer', { context: `describe group ${groupId}` });
    return {
      groupId, state: g.state ?? 'Dead', protocolName: g.protocolName ?? '', generation: g.generationId ?? -1,
      members: (g.members ?? []).map((m) => ({
        memberId: m.memberId ?? '', groupInstanceId: m.groupInstanceId === '' || m.groupInstanceId == null ? null : m.groupInstanceId,
        clientId: m.clientId ?? '', assignment: (m.assignment ?? []).map((tp) => ({ topic: tp.topic ?? '', partition: tp.partition ?? 0 })),
      })),
    };
  }

  /** Every committed offset of the group. */
  async fetchOffsets(groupId: string): Promise<GroupOffset[]> {
    const response = await this.rpc(groupId).call<tributary.v1.OffsetFetchResponse>('offsetFetch', { groupId, topics: [] },
      this.options<tributary.v1.OffsetFetchResponse>((r) => r.error?.code ?? 0));
    const code = response.error?.code ?? 0;
    if (code !== 0) throw errorFromWire(code, response.error?.message ?? '', { context: `offsets of group ${groupId}` });
    return response.topics.flatMap((t) => (t.partitions ?? []).map((p) => ({ topic: t.topic ?? '', partition: p.partition ?? 0, offset: Number(p.committedOffset ?? -1), metadata: p.metadata ?? '' })))
      .sort((a, b) => (a.topic === b.topic ? a.partition - b.partition : a.topic < b.topic ? -1 : 1));
  }

  /** Sets committed offsets as tooling does (generation -1): the coordinator refuses unless the group is Empty. */
  async commitOffsets(groupId: string, offsets: readonly { topic: string; partition: number; offset: number }[]): Promise<void> {
    const byTopic = new Map<string, tributary.v1.IOffsetCommitPartition[]>();
    for (const o of offsets) {
      let parts = byTopic.get(o.topic);
      if (parts === undefined) byTopic.set(o.topic, (parts = []));
      parts.push({ partition: o.partition, committedOffset: o.offset, metadata: '' });
    }
    const response = await this.rpc(groupId).call<tributary.v1.OffsetCommitResponse>('offsetCommit',
      { groupId, generationId: -1, memberId: '', topics: [...byTopic].map(([topic, partitions]) => ({ topic, partitions })) },
      this.options<tributary.v1.OffsetCommitResponse>((r) => r.error?.code ?? r.topics[0]?.partitions?.[0]?.error?.code ?? 0));
    for (const t of response.topics) {
      for (const p of t.partitions ?? []) {
        const code = p.error?.code ?? 0;
        if (code !== 0) throw errorFromWire(code, p.error?.message ?? '', { topic: t.topic ?? '', partition: p.partition ?? 0, context: `commit for group ${groupId}` });
      }
    }
  }

  async deleteGroup(groupId: string): Promise<void> {
    const response = await this.rpc(groupId).call<tributary.v1.DeleteGroupsResponse>('deleteGroups', { groupIds: [groupId] },
      this.options<tributary.v1.DeleteGroupsResponse>((r) => r.results[0]?.error?.code ?? 0));
    const code = response.results[0]?.error?.code ?? 0;
    if (code !== 0) throw errorFromWire(code, response.results[0]?.error?.message ?? '', { context: `delete group ${groupId}` });
  }

  async close(): Promise<void> {
    this.cluster.close();
  }
}
