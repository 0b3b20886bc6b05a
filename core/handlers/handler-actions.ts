/**
 * What a handler can make the host do. The runtime validates every request from a sandbox and
 * then calls this interface; `telephonyActions()` implements it over Telephony Services, tests
 * and `capstan handlers test` use scripted ones.
 */
import { z } from 'zod';
import type { RecordingInfo, RecordingResultInfo, Requester } from '../events/call-events.ts';

/** Requesters a handler may record as. `client` is an agent's own ad hoc recording, never a script's. */
export type HandlerRequester = Exclude<Requester, 'client'>;

export const HandlerStartOptionsSchema = z
  .object({
    /** Who the recording is for; decides where it goes after the fetch. Default `handler`. */
    requester: z.enum(['recorder', 'recorder-rcs', 'workgroup', 'handler']).default('handler'),
    /** Recording MIME type; unset lets the media server decide (RecordingMimeTypeDefault). */
    mime: z.string().min(1).max(64).optional(),
    /** 1 mixes all parties; 2 puts the caller on one channel and everyone else on the other. Default 2. */
    channels: z.union([z.literal(1), z.literal(2)]).optional(),
    /** E-mail address(es) the finished recording is mailed to (mail requesters). */
    deliverTo: z.string().min(1).max(512).nullable().optional(),
    tags: z.array(z.string().min(1).max(100)).max(32).optional(),
    /** Compression the Recorder asks for. Passed through; the media side does not apply it yet. */
    compression: z.enum(['none', 'opus', 'gsm', 'truespeech']).optional(),
    /** Record as SASF, encrypted to the Recorder's active key. Default false. */
    encryption: z.boolean().optional(),
    /** Days the Recorder keeps the recording. Passed through for the Recorder's retention. */
    retentionDays: z.number().int().min(1).max(36500).optional(),
  })
  .strict();

export type HandlerStartOptions = z.output<typeof HandlerStartOptionsSchema>;

/** Which handler version asked, for logs and for adapters that record who started what. */
export interface HandlerActionContext {
  handler: string;
  version: number;
}

export interface HandlerActions {
  /** Starts recording a call; resolves with the media server's file name and URI. */
  startRecording(callId: string, options: HandlerStartOptions, context: HandlerActionContext): Promise<RecordingInfo>;
  /** `secure: false` cuts the paused audio out (mode `skip`); `true` keeps the timeline as silence (mode `silence`). */
  pauseRecording(recordingId: string, secure: boolean, context: HandlerActionContext): Promise<void>;
  resumeRecording(recordingId: string, context: HandlerActionContext): Promise<void>;
  stopRecording(recordingId: string, context: HandlerActionContext): Promise<RecordingResultInfo>;
}
