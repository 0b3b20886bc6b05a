import { createHash } from 'node:crypto';
import { copyFileSync, createReadStream, createWriteStream, mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { CapstanError } from '../errors.ts';

export interface PutResult {
  /** Path relative to the store's root, as kept in the database. */
  mediaPath: string;
  sizeBytes: number;
  sha256: string;
  /** Where the bytes are until `commit`. */
  partPath: string;
  finalPath: string;
}

/**
 * The Recorder's content store: media files on disk under `<dataDir>/store/YYYY/MM/`, the database
 * keeping the path, size and checksum. Writes go to a `.part` file renamed once complete, so a
 * crash never leaves a file that looks whole.
 */
export class ContentStore {
  readonly root: string;

  constructor(root: string) {
    this.root = resolve(root);
    mkdirSync(this.root, { recursive: true });
  }

  /** Where `put` keeps `<id><ext>`, relative to the root: `YYYY/MM/<id><ext>`. */
  mediaPathFor(id: string, ext: string, startedAt: string): string {
    return join(startedAt.slice(0, 7).replace('-', sep), `${id}${ext}`);
  }

  /** Streams `body` into the store as `<id><ext>`, hashing on the way. */
  async put(id: string, ext: string, startedAt: string, body: ReadableStream<Uint8Array> | Readable): Promise<PutResult> {
    const final = this.pathOf(this.mediaPathFor(id, ext, startedAt));
    mkdirSync(dirname(final), { recursive: true });
    const part = `${final}.part`;
    const hash = createHash('sha256');
    let size = 0;
    const tap = new Transform({
      transform(chunk: Buffer, _enc, done) {
        hash.update(chunk);
        size += chunk.length;
        done(null, chunk);
      },
    });
    const source = body instanceof Readable ? body : Readable.fromWeb(body as import('node:stream/web').ReadableStream<Uint8Array>);
    try {
      await pipeline(source, tap, createWriteStream(part));
    } catch (e) {
      rmSync(part, { force: true });
      throw new CapstanError('CAPSTAN_ERR_STORAGE', `Writing ${id} to the content store failed: ${(e as Error).message}`, { cause: e });
    }
    return { mediaPath: relative(this.root, final), sizeBytes: size, sha256: hash.digest('hex'), partPath: part, finalPath: final };
  }

  /** Makes a verified `put` permanent. */
  commit(put: PutResult): void {
    renameSync(put.partPath, put.finalPath);
  }

  discard(put: PutResult): void {
    rmSync(put.partPath, { force: true });
  }

  /** Absolute path of a stored media file; refuses paths outside the store. */
  pathOf(mediaPath: string): string {
    const abs = resolve(this.root, mediaPath);
    if (!abs.startsWith(this.root + sep)) throw new CapstanError('CAPSTAN_ERR_FILE_NOT_FOUND', 'Media path outside the store');
    return abs;
  }

  /** Deletes a stored file (retention); a missing file is not an error. */
  remove(mediaPath: string): void {
    rmSync(this.pathOf(mediaPath), { force: true });
  }

  /**
   * Moves a stored file into another store under the same relative path (retention's `move`):
   * copied, synced by the rename, and only then removed here, so a crash leaves it in one place
   * or both, never none. Returns its path in the other store.
   */
  moveTo(mediaPath: string, other: ContentStore): string {
    const target = other.pathOf(mediaPath);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(this.pathOf(mediaPath), `${target}.part`);
    renameSync(`${target}.part`, target);
    this.remove(mediaPath);
    return mediaPath;
  }

  /** Size and SHA-256 of a stored file (to confirm a repeated `put` without writing again). */
  async digest(mediaPath: string): Promise<{ sizeBytes: number; sha256: string }> {
    const hash = createHash('sha256');
    let size = 0;
    for await (const chunk of createReadStream(this.pathOf(mediaPath)) as AsyncIterable<Buffer>) {
      hash.update(chunk);
      size += chunk.length;
    }
    return { sizeBytes: size, sha256: hash.digest('hex') };
  }

  exists(mediaPath: string): boolean {
    try {
      return statSync(this.pathOf(mediaPath)).isFile();
    } catch {
      return false;
    }
  }
}
