import { createHash } from 'node:crypto';
import { extname } from 'node:path';
import { CapstanError, toCapstanError } from '../errors.ts';
import type { CallInfo, RecordingGapInfo, RecordingInfo, RecordingResultInfo, Requester } from '../events/call-events.ts';
import type { EventBus } from '../events/event-bus.ts';
import type { Logger } from '../logger.ts';
import type { Recorder } from '../recorder/recorder.ts';
import { readRecoveredFile, recoveredResult } from '../recorder/recovered-file.ts';
import { parseSegmentId } from '../telephony/segment-id.ts';
import type { TelephonyServices } from '../telephony/telephony-services.ts';
import type { Delivery, DeliveryStore } from './delivery-store.ts';
import type { MailDelivery } from './mail-delivery.ts';

/** The requesters whose recordings are mailed (the Recorder's are stored). */
export const MAIL_REQUESTERS: readonly Requester[] = ['workgroup', 'client', 'handler'];

export interface MailRequesterOptions {
  /** Agents' addresses by agent id (client recordings). */
  agents: Record<string, string>;
  /** Workgroups' addresses by name (workgroup recordings). */
  workgroups: Record<string, string>;
  /** Larger recordings go to the Recorder and are mailed as a link. */
  maxAttachmentBytes: number;
  /** After the mail is accepted the Recorder keeps a copy too (it then deletes the media server's). Default false. */
  keepCopy?: boolean;
  retryInitialMs: number;
  retryMaxMs: number;
  /** The host's URL, for links in mails. */
  hostUrl: () => string;
}

export interface MailRequesterDeps {
  store: DeliveryStore;
  mail: MailDelivery;
  telephony: TelephonyServices;
  recorder: Recorder;
  events: EventBus;
  logger: Logger;
}

/**
 * The requester for workgroup, client and handler recordings: fetches the finished file, checks
 * its size and SHA-256, mails it as an attachment, and only once the SMTP server (or the outbox)
 * has accepted the message deletes it on the media server. A failed attempt is retried with
 * backoff, forever: the file stays on the media server until the mail is accepted.
 */
export class MailRequester {
  readonly #deps: MailRequesterDeps;
  readonly #options: MailRequesterOptions;
  readonly #inFlight = new Map<string, Promise<void>>();
  readonly #timers = new Map<string, NodeJS.Timeout>();
  readonly #tracked = new Set<Promise<unknown>>();
  /** Each recording's start row being written: its completion waits for it. */
  readonly #inserting = new Map<string, Promise<void>>();
  readonly #off: (() => void)[] = [];
  /** The gap before each failover segment, for its mail's text (kept while the host runs). */
  readonly #gaps = new Map<string, RecordingGapInfo>();
  #closed = false;

  constructor(deps: MailRequesterDeps, options: MailRequesterOptions) {
    this.#deps = deps;
    this.#options = options;
    this.#off.push(
      deps.events.on('recording.started', ({ recording }) => {
        if (!MAIL_REQUESTERS.includes(recording.requester)) return;
        const insert = this.#started(recording).finally(() => this.#inserting.delete(recording.recordingId));
        this.#inserting.set(recording.recordingId, insert);
        this.#track(insert);
      }),
      // Failover: the recording goes on elsewhere as its next segment, mailed on its own when it ends.
      deps.events.on('recording.segment-started', ({ recording, gap }) => {
        if (!MAIL_REQUESTERS.includes(recording.requester)) return;
        this.#gaps.set(recording.recordingId, gap);
        const insert = this.#started(recording).finally(() => this.#inserting.delete(recording.recordingId));
        this.#inserting.set(recording.recordingId, insert);
        this.#track(insert);
      }),
      deps.events.on('recording.completed', ({ recording, result }) => {
        if (MAIL_REQUESTERS.includes(recording.requester)) this.#track(this.#completed(recording, result));
      }),
      // The segment a media server was writing when it died, repaired and offered at its restart.
      deps.events.on('media-server.recovered', ({ id, files }) => {
        for (const file of files) this.#track(this.#recovered(id, file));
      }),
    );
  }

  #track(p: Promise<unknown>): void {
    const t = p.catch((e: unknown) => this.#deps.logger.error({ err: e }, 'mail requester step failed')).finally(() => this.#tracked.delete(t));
    this.#tracked.add(t);
  }

  /** Where a recording goes: the address its requester gave, else the agent's or the workgroup's. */
  #addressFor(recording: RecordingInfo, call: CallInfo): string | null {
    if (recording.deliverTo) return recording.deliverTo;
    if (recording.requester === 'client' && call.agent) return this.#options.agents[call.agent] ?? null;
    if (recording.requester === 'workgroup' && call.workgroup) return this.#options.workgroups[call.workgroup] ?? null;
    return null;
  }

  async #started(recording: RecordingInfo): Promise<void> {
    const c = this.#deps.telephony.get(recording.callId);
    const call: CallInfo = {
      callId: c.callId, source: c.source, direction: c.direction, from: c.from, to: c.to, workgroup: c.workgroup,
      agent: c.agent, location: c.location, startedAt: c.startedAt, attributes: c.attributes,
    };
    await this.#deps.store.insert({
      recordingId: recording.recordingId,
      callId: recording.callId,
      requester: recording.requester,
      to: this.#addressFor(recording, call),
      agent: call.agent,
      workgroup: call.workgroup,
      call,
      fileName: recording.fileName,
      uri: recording.uri,
      mime: recording.mime,
      mediaServerId: recording.mediaServerId,
    });
  }

  async #completed(recording: RecordingInfo, result: RecordingResultInfo): Promise<void> {
    // The row is written at start; wait for that write if it is still running.
    await this.#inserting.get(recording.recordingId);
    await this.#deps.store.markPending(recording.recordingId, result);
    const delivery = await this.#deps.store.get(recording.recordingId);
    if (delivery) await this.#run(delivery, recording, result);
  }

  /**
   * The Recorder's copy of a recording in segments gets the gaps this process saw: marked when the
   * second of the two rows it joins is there (the recording's own and the segment's arrive in
   * either order).
   */
  async #markGaps(recordingId: string): Promise<void> {
    const { recordingId: root } = parseSegmentId(recordingId);
    for (const [segment, gap] of this.#gaps) {
      // This segment's own gap, or (for the recording itself) the gaps of its segments.
      if (segment === recordingId || parseSegmentId(segment).recordingId === recordingId) await this.#deps.recorder.markGap(root, gap);
    }
  }

  /** A recovered file that is one of ours, still `recording`: completed from the file itself, then mailed. */
  async #recovered(mediaServerId: string, file: { recordingId: string; fileName: string; uri: string }): Promise<void> {
    const delivery = await this.#deps.store.get(file.recordingId);
    if (!delivery || delivery.status !== 'recording' || (delivery.mediaServerId !== null && delivery.mediaServerId !== mediaServerId)) return;
    const read = await readRecoveredFile(file.uri, file.fileName);
    // Mailed recordings are the ad hoc kind: dual-channel unless a handler asked otherwise, which the row does not keep.
    const result = recoveredResult(file, read, { mime: delivery.mime, channels: 2, startedAt: delivery.createdAt });
    this.#deps.logger.info({ recordingId: file.recordingId, durationMs: read.durationMs }, 'recovered segment of a mailed recording taken');
    await this.#deps.store.markPending(file.recordingId, result);
    const pending = await this.#deps.store.get(file.recordingId);
    if (pending) await this.#run(pending, undefined, result);
  }

  #run(delivery: Delivery, recording?: RecordingInfo, result?: RecordingResultInfo): Promise<void> {
    const running = this.#inFlight.get(delivery.recordingId);
    if (running) return running;
    const run = this.#attempt(delivery, recording, result).finally(() => this.#inFlight.delete(delivery.recordingId));
    this.#inFlight.set(delivery.recordingId, run);
    return run;
  }

  async #attempt(delivery: Delivery, recording?: RecordingInfo, result?: RecordingResultInfo): Promise<void> {
    const { store, mail, events, logger } = this.#deps;
    const id = delivery.recordingId;
    const info = recording ?? this.#recordingInfo(delivery);
    try {
      if (delivery.status === 'pending') {
        if (delivery.to === null) {
          const error = new CapstanError('CAPSTAN_ERR_DELIVERY_FAILED', `No address for ${delivery.requester} recording ${id} (agent ${delivery.agent ?? '-'}, workgroup ${delivery.workgroup ?? '-'}): configure mail.agents / mail.workgroups or give deliverTo; the file stays on its media server`, { details: { recordingId: id, reason: 'no-address' } });
          await store.markUndeliverable(id, error.message);
          logger.error({ recordingId: id }, error.message);
          events.emit('recording.failed', { recording: info, callId: delivery.callId, error: error.toJSON() });
          return;
        }
        const message = (delivery.sizeBytes ?? 0) > this.#options.maxAttachmentBytes ? await this.#linkMessage(delivery, info, result) : await this.#attachmentMessage(delivery);
        const sent = await mail.send(message);
        await store.markDelivered(id, sent.messageId);
        delivery = { ...delivery, status: 'delivered' };
        logger.info({ recordingId: id, to: delivery.to, messageId: sent.messageId, location: sent.location }, 'recording mailed');
        events.emit('recording.delivered', { recording: info, to: delivery.to! });
      }
      if (delivery.status === 'delivered' && delivery.uri !== null) {
        if (this.#options.keepCopy && delivery.result) {
          // Stored (fetched, verified, committed) and deleted on the media server by the Recorder.
          await this.#deps.recorder.adopt(info, delivery.call, delivery.result);
          await this.#markGaps(delivery.recordingId);
        } else {
          const response = await fetch(this.#uriOf(delivery), { method: 'DELETE', signal: AbortSignal.timeout(10_000) });
          if (!response.ok && response.status !== 404) throw new CapstanError('CAPSTAN_ERR_FETCH_FAILED', `Deleting ${delivery.fileName} answered ${response.status}`);
        }
        await store.markRemoteDeleted(id);
      }
    } catch (e) {
      const error = toCapstanError(e, 'CAPSTAN_ERR_DELIVERY_FAILED');
      if (delivery.status === 'pending') await store.markAttemptFailed(id, `${error.code}: ${error.message}`);
      const attempts = delivery.attempts + 1;
      const delay = Math.min(this.#options.retryInitialMs * 2 ** (attempts - 1), this.#options.retryMaxMs);
      logger.warn({ recordingId: id, attempts, retryInMs: delay, err: error }, 'delivery failed; will retry, the file stays on its media server');
      this.#retry(id, delay);
    }
  }

  #retry(id: string, delay: number): void {
    if (this.#closed || this.#timers.has(id)) return;
    const timer = setTimeout(() => {
      this.#timers.delete(id);
      void this.#deps.store.get(id).then((d) => (d ? this.#run(d) : undefined));
    }, delay);
    this.#timers.set(id, timer);
  }

  async #fetchVerified(delivery: Delivery): Promise<Buffer> {
    const response = await fetch(this.#uriOf(delivery), { signal: AbortSignal.timeout(60_000) }).catch((e: unknown) => {
      throw new CapstanError('CAPSTAN_ERR_FETCH_FAILED', `Fetching ${delivery.fileName} failed: ${(e as Error).message}`, { cause: e });
    });
    if (!response.ok) throw new CapstanError('CAPSTAN_ERR_FETCH_FAILED', `Fetching ${delivery.fileName} answered ${response.status}`);
    const body = Buffer.from(await response.arrayBuffer());
    const sha = createHash('sha256').update(body).digest('hex');
    if (body.length !== delivery.sizeBytes || sha !== delivery.sha256) {
      throw new CapstanError('CAPSTAN_ERR_CHECKSUM_MISMATCH', `${delivery.fileName}: got ${body.length} bytes sha256 ${sha}, expected ${delivery.sizeBytes} sha256 ${delivery.sha256}`);
    }
    return body;
  }

  #subject(delivery: Delivery): string {
    const c = delivery.call;
    const part = parseSegmentId(delivery.recordingId).index;
    return `Call recording ${c.from} → ${c.to}, ${c.startedAt.slice(0, 16).replace('T', ' ')} UTC${part > 0 ? ` (part ${part + 1})` : ''}`;
  }

  #text(delivery: Delivery): string {
    const c = delivery.call;
    const part = parseSegmentId(delivery.recordingId).index;
    const gap = this.#gaps.get(delivery.recordingId);
    return [
      `Recording ${delivery.recordingId} of call ${delivery.callId}`,
      part > 0
        ? `Part ${part + 1} of the recording: its media server failed during the call and the recording went on on another${gap ? `, ${Math.round(gap.endMs - gap.startMs)} ms of audio missing before this part` : ''}. Each part is mailed on its own.`
        : null,
      `From ${c.from} to ${c.to} (${c.direction}), started ${c.startedAt}`,
      c.workgroup ? `Workgroup ${c.workgroup}` : null,
      c.agent ? `Agent ${c.agent}` : null,
    ].filter((l) => l !== null).join('\n');
  }

  async #attachmentMessage(delivery: Delivery) {
    const content = await this.#fetchVerified(delivery);
    const ext = extname(delivery.fileName) || '.wav';
    return {
      to: delivery.to!,
      subject: this.#subject(delivery),
      text: `${this.#text(delivery)}\n\nThe recording is attached.`,
      attachments: [{ filename: `recording-${delivery.recordingId}${ext}`, content, contentType: ext === '.opus' ? 'audio/ogg' : 'audio/wav' }],
    };
  }

  /** Too large to attach: the Recorder keeps it (verified, then deleted on the media server) and the mail links to it. */
  async #linkMessage(delivery: Delivery, recording: RecordingInfo, result?: RecordingResultInfo) {
    await this.#deps.recorder.adopt(recording, delivery.call, result ?? delivery.result!);
    await this.#markGaps(delivery.recordingId);
    const link = `${this.#options.hostUrl()}/api/v1/recordings/${delivery.recordingId}/audio`;
    return {
      to: delivery.to!,
      subject: this.#subject(delivery),
      text: `${this.#text(delivery)}\n\nThe recording (${delivery.sizeBytes} bytes) is too large to attach; it is kept by the Recorder:\n${link}`,
      attachments: [],
    };
  }

  /** The file's URI signed again for its media server's current address (it may have moved ports), else the kept one. */
  #uriOf(d: Delivery): string {
    return (d.mediaServerId !== null ? this.#deps.telephony.fileUri(d.mediaServerId, d.fileName) : null) ?? d.uri!;
  }

  #recordingInfo(d: Delivery): RecordingInfo {
    return {
      recordingId: d.recordingId, callId: d.callId, requester: d.requester as Requester, mediaServerId: d.mediaServerId ?? '', fileName: d.fileName,
      uri: d.uri ?? '', mime: d.mime, channels: 2, deliverTo: d.to, tags: [], keyId: null, startedAt: d.createdAt,
    };
  }

  /** Finishes what a previous run left: pending mails, deletes not yet done. */
  async resume(): Promise<void> {
    const unfinished = await this.#deps.store.listUnfinished();
    if (unfinished.length) this.#deps.logger.info({ count: unfinished.length }, 'resuming unfinished deliveries');
    for (const d of unfinished) this.#track(this.#run(d));
  }

  /** Stops retrying (pending deliveries resume at the next start) and waits for attempts in progress. */
  async close(): Promise<void> {
    if (this.#closed) return;
    for (const off of this.#off) off();
    while (this.#tracked.size > 0 || this.#inFlight.size > 0) await Promise.all([...this.#tracked, ...this.#inFlight.values()]);
    this.#closed = true;
    for (const t of this.#timers.values()) clearTimeout(t);
    this.#timers.clear();
  }
}

