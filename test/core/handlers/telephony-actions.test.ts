import { describe, expect, it } from 'vitest';
import type { RecordingInfo } from '../../../core/events/call-events.ts';
import { telephonyActions } from '../../../core/handlers/telephony-actions.ts';

function fakeTelephony() {
  const calls: unknown[][] = [];
  const recording: RecordingInfo = { recordingId: 'r', callId: 'c', requester: 'recorder', mediaServerId: 'm', fileName: 'f', uri: 'u', mime: 'audio/L16', channels: 2, deliverTo: null, tags: [], keyId: null, startedAt: '' };
  return {
    calls,
    recording,
    telephony: {
      startRecording: async (...a: unknown[]) => (calls.push(['start', ...a]), recording),
      pauseRecording: async (...a: unknown[]) => void calls.push(['pause', ...a]),
      resumeRecording: async (...a: unknown[]) => void calls.push(['resume', ...a]),
      stopRecording: async (...a: unknown[]) => (calls.push(['stop', ...a]), {} as never),
    },
  };
}
const ctx = { handler: 'h', version: 1 };

describe('telephonyActions', () => {
  it('turns a handler’s start into a Telephony Services request, passing compression and retention through', async () => {
    const t = fakeTelephony();
    const key = { keyId: 'k1', publicKeyPem: 'PEM' };
    const adopted: unknown[] = [];
    const actions = telephonyActions(t.telephony, { encryptionKey: () => key, onRecorderRecording: async (r) => void adopted.push(r) });
    await actions.startRecording('c', { requester: 'recorder', mime: 'audio/PCMA', channels: 1, tags: ['a'], compression: 'opus', encryption: true, retentionDays: 7 }, ctx);
    expect(t.calls[0]).toEqual(['start', 'c', { requester: 'recorder', mime: 'audio/PCMA', channels: 1, deliverTo: null, tags: ['a'], encryption: key, compression: 'opus', retentionDays: 7 }]);
    expect(adopted).toEqual([t.recording]);
    await actions.startRecording('c', { requester: 'workgroup', deliverTo: 'wg@example.com' }, ctx);
    expect(adopted).toHaveLength(1);
  });

  it('maps pause to skip and secure pause to silence', async () => {
    const t = fakeTelephony();
    const actions = telephonyActions(t.telephony);
    await actions.pauseRecording('r', false, ctx);
    await actions.pauseRecording('r', true, ctx);
    await actions.resumeRecording('r', ctx);
    await actions.stopRecording('r', ctx);
    expect(t.calls).toEqual([['pause', 'r', 'skip'], ['pause', 'r', 'silence'], ['resume', 'r'], ['stop', 'r']]);
  });

  it('refuses an unsupported MIME type and encryption without a Recorder key', async () => {
    const actions = telephonyActions(fakeTelephony().telephony);
    await expect(actions.startRecording('c', { requester: 'handler', mime: 'audio/mp3' }, ctx)).rejects.toMatchObject({ code: 'CAPSTAN_ERR_UNSUPPORTED_FORMAT' });
    await expect(actions.startRecording('c', { requester: 'handler', encryption: true }, ctx)).rejects.toMatchObject({ code: 'CAPSTAN_ERR_KEY_NOT_FOUND' });
  });
});
