import { CapstanError } from '../errors.ts';
import { RcsFetchResponse, type RcsFetchRequest } from './rcs-api.ts';

/** The host's side of the content API of one Remote Content Service server. */
export class RcsClient {
  readonly #base: string;
  readonly #auth: string;
  readonly #id: string;

  constructor(server: { id: string; url: string }, secret: string) {
    this.#id = server.id;
    this.#base = server.url.replace(/\/+$/, '');
    this.#auth = `Bearer ${secret}`;
  }

  #mediaUrl(mediaPath: string): string {
    return `${this.#base}/rcs/v1/media/${mediaPath.split(/[\\/]/).map(encodeURIComponent).join('/')}`;
  }

  async #send(url: string, init: RequestInit, what: string, timeoutMs: number): Promise<Response> {
    try {
      return await fetch(url, { ...init, headers: { ...(init.headers as Record<string, string>), authorization: this.#auth }, signal: AbortSignal.timeout(timeoutMs) });
    } catch (e) {
      throw new CapstanError('CAPSTAN_ERR_RCS_UNREACHABLE', `Remote content service ${this.#id} did not answer ${what}: ${(e as Error).message}`, { cause: e, details: { rcs: this.#id } });
    }
  }

  async #refused(response: Response, what: string): Promise<CapstanError> {
    const body = (await response.json().catch(() => ({}))) as { code?: string; message?: string };
    return new CapstanError('CAPSTAN_ERR_RCS_REFUSED', `Remote content service ${this.#id} refused ${what}: ${response.status} ${body.code ?? ''} ${body.message ?? ''}`.trim(), {
      details: { rcs: this.#id, status: response.status, code: body.code ?? null },
    });
  }

  /** Asks the server to take the file from the media server; resolves once it is kept and verified. */
  async fetchFrom(request: RcsFetchRequest): Promise<RcsFetchResponse> {
    const res = await this.#send(`${this.#base}/rcs/v1/fetch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(request) }, 'a fetch', 120_000);
    if (!res.ok) throw await this.#refused(res, `to fetch ${request.recordingId}`);
    return RcsFetchResponse.parse(await res.json());
  }

  /** The stored file, or the `range` of it, as the server answers it (status, headers, body). */
  async open(mediaPath: string, range: string | undefined): Promise<Response> {
    const res = await this.#send(this.#mediaUrl(mediaPath), { headers: range ? { range } : {} }, `a read of ${mediaPath}`, 30_000);
    if (res.status === 404) {
      await res.body?.cancel();
      throw new CapstanError('CAPSTAN_ERR_FILE_NOT_FOUND', `Remote content service ${this.#id} has no ${mediaPath}`, { details: { rcs: this.#id, mediaPath } });
    }
    if (!res.ok && res.status !== 416) throw await this.#refused(res, `a read of ${mediaPath}`);
    return res;
  }

  /** The whole file in memory (SASF is decrypted whole, as from the local store). */
  async readAll(mediaPath: string): Promise<Buffer> {
    const res = await this.open(mediaPath, undefined);
    return Buffer.from(await res.arrayBuffer());
  }

  /** Removes the file; a file already gone counts as removed. */
  async remove(mediaPath: string): Promise<void> {
    const res = await this.#send(this.#mediaUrl(mediaPath), { method: 'DELETE' }, `a delete of ${mediaPath}`, 10_000);
    await res.body?.cancel();
    if (!res.ok && res.status !== 404) throw await this.#refused(res, `to delete ${mediaPath}`);
  }
}
