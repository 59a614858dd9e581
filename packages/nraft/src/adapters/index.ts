// nraft's I/O adapters (file system). Kept out of the package root so that the pure core stays free
// of `fs`; import from '@tributary/nraft/adapters'.
export {
  FileRaftStorage, parseFileRaftStorageOptions,
  DEFAULT_SEGMENT_BYTES, DEFAULT_CACHE_BYTES_MAX, DEFAULT_RECORD_BYTES_MAX,
  type FileRaftStorageOptions, type FileRaftStorageConfig, type PersistableReady,
} from './file-storage.js';
export { StorageCorruptionError } from './adapter-errors.js';
export { SnapshotOutOfDateError } from '../memory-storage.js';
