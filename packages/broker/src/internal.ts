// Internals for this package's tests (and the testing package): not a stable API.
export * from './index.js';
export { ensureMetaProperties, completeLocalMetadataImport, parseMetaProperties, generateClusterId, META_PROPERTIES_FILE } from './meta-properties.js';
export { LEGACY_METADATA_DIR, LEGACY_METADATA_FILE, LEGACY_METADATA_IMPORTED_FILE, readLegacyLocalMetadata } from './cluster/local-metadata-import.js';
export { ChangeNotifier, partitionKey } from './change-notifier.js';
export { ReplicaManager } from './replica-manager.js';
export { LogMaintenance, type LogMaintenanceConfig, type MaintainedLog } from './log-maintenance.js';
export { groupCoordinatorConfig, logMaintenanceConfig, replicationConfig, controllerConfig, quorumControllerConfig } from './component-configs.js';
export { Partition, NO_LEADER_EPOCH, type ProducerIdPolicy } from './partition.js';
export { produce, MAX_BATCHES_PER_PARTITION } from './produce.js';
export { fetch, readPartitions } from './fetch.js';
export { listOffset, MAX_TIMESTAMP_SCAN_BATCHES } from './list-offsets.js';
export { decodeProduceRequest, decodeFetchRequest, SUBSCRIBE_DEFAULT_WAIT_MS, MAX_FETCH_PARTITIONS } from './broker-service.js';
export { MAX_ADMIN_RESOURCES_PER_REQUEST } from './admin-service.js';
