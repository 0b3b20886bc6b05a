import { RecordingMime } from '../../media/control-api.ts';
import { CapstanError } from '../errors.ts';
import type { RecordingInfo } from '../events/call-events.ts';
import type { StartRecordingOptions, TelephonyServices } from '../telephony/telephony-services.ts';
import type { HandlerActionContext, HandlerActions, HandlerStartOptions } from './handler-actions.ts';

/**
 * Options Telephony Services takes (compression goes through the format decision), plus
 * `retentionDays`, which nothing applies per recording yet (retention is by policy, see
 * recorder.retention): it rides along so handlers that set it need no change when it is.
 */
export type PassThroughStartOptions = StartRecordingOptions & {
  retentionDays?: number;
};

export interface TelephonyActionsOptions {
  /**
   * The Recorder's active key, for `encryption: true` (SASF). Default: none, and a handler asking
   * for encryption gets CAPSTAN_ERR_KEY_NOT_FOUND.
   */
  encryptionKey?: () => { keyId: string; publicKeyPem: string } | null;
  /**
   * Called after a handler started a recording as requester `recorder` or `recorder-rcs`: the
   * Recorder must adopt it (insert its row) to fetch and store it when it completes, as it does
   * for the recordings its own policies start.
   */
  onRecorderRecording?: (recording: RecordingInfo, options: HandlerStartOptions, context: HandlerActionContext) => Promise<void>;
}

/** HandlerActions over Telephony Services: what a handler asks for becomes a Telephony Services request. */
export function telephonyActions(
  telephony: Pick<TelephonyServices, 'startRecording' | 'pauseRecording' | 'resumeRecording' | 'stopRecording'>,
  options: TelephonyActionsOptions = {},
): HandlerActions {
  return {
    async startRecording(callId, start, context) {
      let mime: RecordingMime | undefined;
      if (start.mime !== undefined) {
        const parsed = RecordingMime.safeParse(start.mime);
        if (!parsed.success) {
          throw new CapstanError('CAPSTAN_ERR_UNSUPPORTED_FORMAT', `Recording MIME type ${start.mime} is not supported; one of ${RecordingMime.options.join(', ')}`, {
            details: { mime: start.mime, handler: context.handler },
          });
        }
        mime = parsed.data;
      }
      let encryption: { keyId: string; publicKeyPem: string } | null = null;
      if (start.encryption === true) {
        encryption = options.encryptionKey?.() ?? null;
        if (encryption === null) {
          throw new CapstanError('CAPSTAN_ERR_KEY_NOT_FOUND', 'A handler asked for an encrypted recording, but the Recorder has no key: enable recorder.encryption or run "capstan keys generate"', {
            details: { handler: context.handler },
          });
        }
      }
      const request: PassThroughStartOptions = {
        requester: start.requester,
        mime,
        channels: start.channels,
        deliverTo: start.deliverTo ?? null,
        tags: start.tags ?? [],
        ...(start.compression !== undefined ? { compression: start.compression } : {}),
        encryption,
        ...(start.retentionDays !== undefined ? { retentionDays: start.retentionDays } : {}),
      };
      const recording = await telephony.startRecording(callId, request);
      if ((start.requester === 'recorder' || start.requester === 'recorder-rcs') && options.onRecorderRecording) {
        await options.onRecorderRecording(recording, start, context);
      }
      return recording;
    },
    pauseRecording: (recordingId, secure) => telephony.pauseRecording(recordingId, secure ? 'silence' : 'skip'),
    resumeRecording: (recordingId) => telephony.resumeRecording(recordingId),
    stopRecording: (recordingId) => telephony.stopRecording(recordingId),
  };
}
