/** SASF, Capstan's secure audio format: see docs/sasf.md. */
export {
  SASF_DEFAULT_CHUNK_SIZE,
  SASF_MAX_CHUNK_SIZE,
  SASF_MIN_CHUNK_SIZE,
  SASF_VERSION,
  SasfHeader,
  SasfTrailer,
  type SasfAead,
  type SasfHeaderFields,
  type SasfKeyWrap,
  type SasfMetadata,
  type SasfRewrite,
} from './format.ts';
export { SasfEncoder, type SasfEncoderOptions } from './encoder.ts';
export { SasfWriter, type SasfWriteResult, type SasfWriterOptions } from './writer.ts';
export {
  SasfReader,
  decryptSasf,
  decryptSasfFile,
  type SasfDecryptFileOptions,
  type SasfDecryptFileResult,
  type SasfDecryptResult,
  type SasfPrivateKeySource,
  type SasfReadOptions,
} from './reader.ts';
export { inspectSasf, type SasfInspection } from './inspect.ts';
export { encryptSasfFile, type SasfEncryptFileOptions } from './encrypt-file.ts';
export { innerExtensionOf, probeAudioHeader, type ProbedAudio } from './probe.ts';
