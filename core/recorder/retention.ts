/**
 * Retention: policies over the Recorder's stored recordings that, once a recording is old enough,
 * purge its media only, purge the whole recording, or move its media to another location (an
 * archive folder). Run on a schedule and on demand (`POST /api/v1/retention/run`).
 *
 * Policies are evaluated in order per recording; the first that matches acts. A purge of media
 * keeps the row (who, when, how long) with `mediaPath: null` and status `purged`.
 */
import type { Logger } from '../logger.ts';
import type { ContentStore } from './content-store.ts';
import { extname } from 'node:path';
import { CapstanError } from '../errors.ts';
import { rcsServerOf, type RcsKeeper } from '../rcs/rcs-keeper.ts';
import type { RecordingStore, StoredRecording } from './recording-store.ts';

export interface RetentionPolicy {
  /** Name shown in logs and run reports. */
  name: string;
  /** Recordings that started this many days ago or more. */
  olderThanDays: number;
  /** Only these workgroups. Default: any. */
  workgroup?: string[] | undefined;
  /** Only these agents. Default: any. */
  agent?: string[] | undefined;
  /** Only recordings with one of these tags. Default: any. */
  tag?: string[] | undefined;
  /** `purge-media`: delete the audio, keep the row; `purge-all`: delete both; `move`: move the audio to `moveTo`. */
  action: 'purge-media' | 'purge-all' | 'move';
  /** Named location (`recorder.retention.locations`) the audio moves to, for `move`. */
  moveTo?: string | undefined;
}

export interface RetentionReport {
  examined: number;
  purgedMedia: number;
  purgedAll: number;
  moved: number;
  failed: number;
}

function matches(policy: RetentionPolicy, r: StoredRecording, now: number): boolean {
  if (Date.parse(r.startedAt) > now - policy.olderThanDays * 86_400_000) return false;
  if (policy.workgroup && !(r.workgroup !== null && policy.workgroup.includes(r.workgroup))) return false;
  if (policy.agent && !(r.agent !== null && policy.agent.includes(r.agent))) return false;
  if (policy.tag && !policy.tag.some((t) => r.tags.includes(t))) return false;
  return true;
}

/** The policy that applies to a recording now, or null. Pure. */
export function retentionPolicyFor(policies: readonly RetentionPolicy[], r: StoredRecording, now: number): RetentionPolicy | null {
  return policies.find((p) => matches(p, r, now)) ?? null;
}

export class RetentionRunner {
  readonly #store: RecordingStore;
  readonly #content: ContentStore;
  readonly #policies: readonly RetentionPolicy[];
  readonly #locations: Record<string, ContentStore>;
  readonly #logger: Logger;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<RetentionReport> | null = null;

  readonly #rcs: RcsKeeper | null;

  constructor(
    deps: { store: RecordingStore; content: ContentStore; locations: Record<string, ContentStore>; logger: Logger; rcs?: RcsKeeper | null },
    policies: readonly RetentionPolicy[],
  ) {
    this.#store = deps.store;
    this.#rcs = deps.rcs ?? null;
    this.#content = deps.content;
    this.#locations = deps.locations;
    this.#logger = deps.logger;
    this.#policies = policies;
  }

  /** Runs every `intervalMs` (0: never). */
  schedule(intervalMs: number): void {
    if (intervalMs <= 0 || this.#policies.length === 0) return;
    this.#timer = setInterval(() => void this.run().catch((e: unknown) => this.#logger.error({ err: e }, 'retention run failed')), intervalMs);
    this.#timer.unref();
  }

  /** One pass over the stored recordings; concurrent calls share the pass in progress. */
  run(now = Date.now()): Promise<RetentionReport> {
    this.#running ??= this.#run(now).finally(() => (this.#running = null));
    return this.#running;
  }

  async #run(now: number): Promise<RetentionReport> {
    const report: RetentionReport = { examined: 0, purgedMedia: 0, purgedAll: 0, moved: 0, failed: 0 };
    if (this.#policies.length === 0) return report;
    const oldest = Math.min(...this.#policies.map((p) => p.olderThanDays));
    const before = new Date(now - oldest * 86_400_000).toISOString();
    for (let offset = 0; ; ) {
      const { items } = await this.#store.list({ to: before, limit: 200, offset, includeSegments: true });
      if (items.length === 0) break;
      let removed = 0;
      for (const r of items) {
        report.examined++;
        const policy = retentionPolicyFor(this.#policies, r, now);
        if (!policy || r.status !== 'stored') continue;
        try {
          const location = r.mediaLocation ?? 'store';
          const from = location === 'store' ? this.#content : this.#locations[location];
          // Media on a Remote Content Service server: reached through it (a server that is down
          // fails this recording for this pass; the next pass tries again).
          const rcs = rcsServerOf(location) !== null && this.#rcs ? this.#rcs.clientFor(location) : null;
          if (policy.action === 'move') {
            if (location === policy.moveTo || !r.mediaPath || (!from && !rcs)) continue;
            const to = this.#locations[policy.moveTo!]!;
            let mediaPath: string;
            if (rcs) {
              // Copied, verified against the recording's checksum, committed, then removed there.
              const put = await to.put(r.id, extname(r.mediaPath), r.startedAt, (await rcs.open(r.mediaPath, undefined)).body!);
              if (r.sha256 !== null && put.sha256 !== r.sha256) {
                to.discard(put);
                throw new CapstanError('CAPSTAN_ERR_CHECKSUM_MISMATCH', `Moving ${r.id} from ${location}: the copy does not match its checksum`);
              }
              to.commit(put);
              mediaPath = put.mediaPath;
              await this.#store.markMoved(r.id, policy.moveTo!, mediaPath);
              await rcs.remove(r.mediaPath);
            } else {
              mediaPath = from!.moveTo(r.mediaPath, to);
              await this.#store.markMoved(r.id, policy.moveTo!, mediaPath);
            }
            report.moved++;
          } else {
            if (r.mediaPath && rcs) await rcs.remove(r.mediaPath);
            else if (r.mediaPath && from) from.remove(r.mediaPath);
            if (policy.action === 'purge-all') {
              await this.#store.remove(r.id);
              report.purgedAll++;
              removed++;
            } else {
              await this.#store.markPurged(r.id);
              report.purgedMedia++;
            }
          }
          this.#logger.info({ recordingId: r.id, policy: policy.name, action: policy.action }, 'retention applied');
        } catch (e) {
          report.failed++;
          this.#logger.error({ err: e, recordingId: r.id, policy: policy.name }, 'retention failed for a recording');
        }
      }
      offset += items.length - removed;
    }
    return report;
  }

  close(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = null;
  }
}
