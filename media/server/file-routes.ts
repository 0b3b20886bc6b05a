/**
 * The file routes requesters use with signed URIs: GET (with a single `Range`), HEAD and DELETE
 * of finished recordings. Files still being recorded exist only as `.part` and are not served
 * (404): a requester fetches after the stop.
 */
import { createReadStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { parseByteRange } from '../../core/http/byte-range.ts';
import { CapstanError } from '../../core/errors.ts';
import { verifyFileUri } from './signed-uri.ts';

export interface FileRoutesOptions {
  recordingsDir: string;
  secret: string;
  /** Told after a file is deleted, so the server forgets it. */
  onDeleted?: (fileName: string) => void;
}

interface FileRequest {
  Params: { fileName: string };
  Querystring: { expires?: string; sig?: string };
}


async function authorize(request: FastifyRequest<FileRequest>, secret: string): Promise<string> {
  const { fileName } = request.params;
  const check = verifyFileUri(fileName, request.query.expires, request.query.sig, secret);
  if (check.ok) return fileName;
  if (check.reason === 'bad-name') throw new CapstanError('CAPSTAN_ERR_BAD_REQUEST', 'not a recording file name', { details: { reason: check.reason } });
  if (check.reason === 'expired') throw new CapstanError('CAPSTAN_ERR_URI_EXPIRED', undefined, { details: { reason: check.reason } });
  throw new CapstanError('CAPSTAN_ERR_FORBIDDEN', 'the file URI is not validly signed', { details: { reason: check.reason } });
}

async function fileSize(path: string, fileName: string): Promise<number> {
  try {
    const s = await stat(path);
    if (s.isFile()) return s.size;
  } catch {
    // fall through: missing or unreadable is "no such file" to the requester
  }
  throw new CapstanError('CAPSTAN_ERR_FILE_NOT_FOUND', `no file ${fileName}`, { details: { fileName } });
}

function baseHeaders(reply: FastifyReply, size: number, path: string): void {
  reply.header('accept-ranges', 'bytes').header('content-type', contentTypeOf(path)).header('cache-control', 'no-store');
  reply.header('content-length', size);
}

export function registerFileRoutes(app: FastifyInstance, options: FileRoutesOptions): void {
  const { recordingsDir, secret } = options;

  app.get<FileRequest>('/files/:fileName', { exposeHeadRoute: false }, async (request, reply) => {
    const fileName = await authorize(request, secret);
    const path = join(recordingsDir, fileName);
    const size = await fileSize(path, fileName);
    const range = parseByteRange(request.headers.range, size);
    if (range === 'unsatisfiable') {
      // 416 with the usual error body: the code says what kind of failure, the status how HTTP sees it.
      const error = new CapstanError('CAPSTAN_ERR_BAD_REQUEST', 'the requested range is outside the file', { details: { reason: 'range-not-satisfiable', size } });
      return reply.code(416).header('content-range', `bytes */${size}`).send(error.toJSON());
    }
    if (range) {
      baseHeaders(reply, range.end - range.start + 1, path);
      reply.code(206).header('content-range', `bytes ${range.start}-${range.end}/${size}`);
      return reply.send(createReadStream(path, { start: range.start, end: range.end }));
    }
    baseHeaders(reply, size, path);
    return reply.send(createReadStream(path));
  });

  app.head<FileRequest>('/files/:fileName', async (request, reply) => {
    const fileName = await authorize(request, secret);
    const path = join(recordingsDir, fileName);
    const size = await fileSize(path, fileName);
    baseHeaders(reply, size, path);
    return reply.send();
  });

  app.delete<FileRequest>('/files/:fileName', async (request, reply) => {
    const fileName = await authorize(request, secret);
    try {
      await unlink(join(recordingsDir, fileName));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new CapstanError('CAPSTAN_ERR_FILE_NOT_FOUND', `no file ${fileName}`, { details: { fileName } });
      }
      throw e;
    }
    options.onDeleted?.(fileName);
    return reply.code(204).send();
  });
}

/** What a recording file is, by its extension (the names are ours: FILE_NAME_PATTERN). */
function contentTypeOf(path: string): string {
  if (path.endsWith('.sasf')) return 'application/x-capstan-sasf';
  if (path.endsWith('.opus')) return 'audio/ogg';
  return 'audio/wav';
}
