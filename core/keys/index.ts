/** Recorder key management: the X25519 keys SASF recordings are encrypted to. See docs/sasf.md. */
export {
  ACTIVE_PUBLIC_KEY_FILE,
  KEYRING_FILE,
  activeKey,
  exportPublicKey,
  generateKey,
  listKeys,
  loadPrivateKey,
  loadPublicKey,
  privateKeyResolver,
  rotateKey,
  type GenerateKeyOptions,
  type PrivateKeyResolverOptions,
  type RecorderKeyInfo,
  type RotateKeyOptions,
} from './keyring.ts';
export { parsePrivateKeyPem, parsePublicKeyPem } from './key-files.ts';
export { KEY_ID_BYTES, isKeyId, keyIdOf } from './key-id.ts';
