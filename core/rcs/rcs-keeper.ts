import { extname } from 'node:path';
import { CapstanError } from '../errors.ts';
import type { StoredRecording } from '../recorder/recording-store.ts';
import { RcsClient } from './rcs-client.ts';
import type { RcsRegistry } from './rcs-registry.ts';

/** `media_location` of media kept by an RCS server. */
const PREFIX = 'rcs:';

export function rcsLocation(serverId: string): string {
  return `${PREFIX}${serverId}`;
}

/** The RCS server id of a `media_location`, or null when the media is not on an RCS server. */
export function rcsServerOf(mediaLocation: string | null): string | null {
  return mediaLocation?.startsWith(PREFIX) ? mediaLocation.slice(PREFIX.length) : null;
}

/**
 * The Recorder's way to the Remote Content Service: picks the server for a recording's location,
 * has it take the file from the media server, and reaches the media later for playback and
 * deletion.
 */
export class RcsKeeper {
  readonly #registry: RcsRegistry;
  readonly #secret: string;

  constructor(registry: RcsRegistry, secret: string) {
    this.#registry = registry;
    this.#secret = secret;
  }

  /** Has the server for the recording's location keep its finished file; answers where it is. */
  async keep(row: StoredRecording): Promise<{ mediaPath: string; mediaLocation: string }> {
    const location = row.location ?? '';
    const server = this.#registry.forLocation(location);
    if (!server) {
      throw new CapstanError('CAPSTAN_ERR_NO_RCS', `No remote content service that is up keeps recordings of location "${location}"`, { details: { location, recordingId: row.id } });
    }
    const kept = await new RcsClient(server, this.#secret).fetchFrom({
      recordingId: row.id,
      uri: row.uri!,
      ext: extname(row.fileName) || '.wav',
      startedAt: row.startedAt,
      sizeBytes: row.sizeBytes!,
      sha256: row.sha256!,
    });
    if (kept.sizeBytes !== row.sizeBytes || kept.sha256 !== row.sha256) {
      throw new CapstanError('CAPSTAN_ERR_CHECKSUM_MISMATCH', `Remote content service ${server.id} kept ${kept.sizeBytes} bytes sha256 ${kept.sha256} of ${row.id}, expected ${row.sizeBytes} bytes sha256 ${row.sha256}`);
    }
    return { mediaPath: kept.mediaPath, mediaLocation: rcsLocation(server.id) };
  }

  /** A client for the server holding media at `mediaLocation`; a coded 503 when it is down or unknown. */
  clientFor(mediaLocation: string): RcsClient {
    const id = rcsServerOf(mediaLocation);
    const server = id === null ? null : this.#registry.get(id);
    if (!server || server.state !== 'up') {
      throw new CapstanError('CAPSTAN_ERR_NO_RCS', `Remote content service ${id ?? mediaLocation} is not up`, { details: { rcs: id } });
    }
    return new RcsClient(server, this.#secret);
  }
}
