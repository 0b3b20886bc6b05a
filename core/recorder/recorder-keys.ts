import { activeKey, generateKey, listKeys, privateKeyResolver } from '../keys/index.ts';
import type { Logger } from '../logger.ts';
import { decryptSasf } from '../../media/sasf/reader.ts';

export interface RecorderKeysOptions {
  /** The key folder. */
  dir: string;
  /** Generate a key when the folder has none (encryption enabled on a fresh install). */
  generateIfMissing: boolean;
  passphrase?: string | undefined;
}

/**
 * The Recorder's side of SASF: the active public key it sends to media servers with each
 * encrypted recording request, and decryption (any key in the folder, rotated ones included) for
 * playback.
 */
export class RecorderKeys {
  readonly dir: string;
  readonly #resolve: (keyId: string) => Promise<import('node:crypto').KeyObject>;
  #active: { keyId: string; publicKeyPem: string } | null = null;

  private constructor(dir: string, passphrase: string | undefined) {
    this.dir = dir;
    this.#resolve = privateKeyResolver(dir, passphrase === undefined ? {} : { passphrase });
  }

  static async open(options: RecorderKeysOptions, logger: Logger): Promise<RecorderKeys> {
    const keys = new RecorderKeys(options.dir, options.passphrase);
    if (options.generateIfMissing && (await listKeys(options.dir).catch(() => [])).length === 0) {
      const key = await generateKey(options.dir, options.passphrase === undefined ? {} : { passphrase: options.passphrase });
      logger.warn({ keyId: key.keyId, dir: options.dir }, 'generated the Recorder key for encrypted recordings: back this folder up');
    }
    await keys.refresh();
    return keys;
  }

  /** Re-reads the active key (after `capstan keys rotate`). */
  async refresh(): Promise<void> {
    const key = await activeKey(this.dir);
    this.#active = { keyId: key.keyId, publicKeyPem: key.publicKeyPem };
  }

  get active(): { keyId: string; publicKeyPem: string } {
    return this.#active!;
  }

  /** Decrypts a whole SASF file, by path or its bytes (from an RCS server); refuses anything that does not verify. */
  async decrypt(path: string | Uint8Array): Promise<Buffer> {
    return (await decryptSasf(path, { privateKey: this.#resolve })).plaintext;
  }
}
