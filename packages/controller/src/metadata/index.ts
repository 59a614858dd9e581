// The metadata state machine: records, the immutable image, applyRecords, snapshots, diffs.
export { MetadataInvariantError, MetadataDecodeError } from './metadata-errors.js';
export {
  NO_LEADER,
  type BrokerEndpoint, type MetadataRecord, type MetadataRecordType, type RegisterBrokerRecord, type UnregisterBrokerRecord,
  type FenceBrokerRecord, type UnfenceBrokerRecord, type BrokerShutdownRecord, type TopicRecord, type PartitionRecord,
  type PartitionChangeRecord, type ConfigRecord, type ConfigResourceType, type ProducerIdsBlockRecord, type RemoveTopicRecord,
} from './metadata-records.js';
export {
  encodeMetadataBatch, decodeMetadataBatch, encodeMetadataSnapshot, decodeMetadataSnapshot,
  recordToWire, recordFromWire, snapshotToWire, snapshotFromWire, type MetadataSnapshotData,
} from './metadata-codec.js';
export {
  emptyImage, topicByName, partitionOf, topicConfig, brokerConfig, effectiveTopicConfig, isBrokerUsable, isReplicaUsable, usableBrokers,
  isOffline, allPartitions,
  type MetadataImage, type BrokerImage, type TopicImage, type PartitionImage, type ConfigMap,
} from './metadata-image.js';
export { applyRecords } from './metadata-apply.js';
export { imageToRecords, encodeImageSnapshot, imageFromSnapshot, imageFromSnapshotData, imageHash } from './metadata-snapshot.js';
export { diffImages, localChanges, type MetadataDiff, type PartitionDelta, type LocalChanges } from './metadata-delta.js';
export { imageInvariantViolations } from './metadata-invariants.js';
export { metadataStateMachine, type MetadataStateMachine } from './metadata-state-machine.js';
