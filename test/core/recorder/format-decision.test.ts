import { describe, expect, it } from 'vitest';
import { decideFormat, type FormatRequest } from '../../../core/recorder/format-decision.ts';

const base: FormatRequest = { requester: 'recorder', recordingMimeTypeDefault: 'audio/L16', encrypt: false };

describe('decideFormat', () => {
  it('lets RecordingMimeTypeDefault decide when the Recorder asks for no compression', () => {
    for (const def of ['audio/L16', 'audio/PCMU', 'audio/PCMA', 'audio/opus']) {
      const d = decideFormat({ ...base, compression: 'none', recordingMimeTypeDefault: def });
      expect(d).toMatchObject({ mime: def, rule: 'default', encrypted: false });
    }
    expect(decideFormat({ ...base, recordingMimeTypeDefault: 'audio/opus' })).toMatchObject({ container: 'ogg', extension: '.opus', channels: 2 });
  });

  it('maps the Recorder\'s compression to Opus, GSM or TrueSpeech whatever the default', () => {
    expect(decideFormat({ ...base, compression: 'opus', recordingMimeTypeDefault: 'audio/PCMU' })).toMatchObject({ mime: 'audio/opus', container: 'ogg', extension: '.opus', channels: 2, rule: 'compression' });
    expect(decideFormat({ ...base, compression: 'gsm' })).toMatchObject({ mime: 'audio/GSM', container: 'wav', extension: '.wav' });
    expect(decideFormat({ ...base, compression: 'truespeech', channels: 1 })).toMatchObject({ mime: 'audio/x-truespeech', channels: 1, downmixed: false });
  });

  it('mixes a dual-channel request down to mono for the mono-only codecs and says so', () => {
    expect(decideFormat({ ...base, compression: 'gsm', channels: 2 })).toMatchObject({ channels: 1, downmixed: true });
    expect(decideFormat({ ...base, recordingMimeTypeDefault: 'audio/x-truespeech' })).toMatchObject({ channels: 1, downmixed: true });
    expect(decideFormat({ ...base, compression: 'opus', channels: 2 })).toMatchObject({ channels: 2, downmixed: false });
  });

  it('wraps the decided format in SASF when the recording is encrypted', () => {
    expect(decideFormat({ ...base, compression: 'opus', encrypt: true })).toMatchObject({ mime: 'audio/opus', container: 'ogg', innerExtension: '.opus', extension: '.sasf', encrypted: true });
    expect(decideFormat({ ...base, requester: 'recorder-rcs', encrypt: true })).toMatchObject({ mime: 'audio/L16', innerExtension: '.wav', extension: '.sasf' });
  });

  it('always gives ad hoc (client) recordings plain PCM or G.711 WAV', () => {
    expect(decideFormat({ ...base, requester: 'client', recordingMimeTypeDefault: 'audio/PCMA' })).toMatchObject({ mime: 'audio/PCMA', extension: '.wav', encrypted: false, rule: 'client' });
    for (const def of ['audio/opus', 'audio/GSM', 'audio/x-truespeech']) {
      expect(decideFormat({ ...base, requester: 'client', recordingMimeTypeDefault: def })).toMatchObject({ mime: 'audio/L16', container: 'wav', extension: '.wav' });
    }
    expect(decideFormat({ ...base, requester: 'client', mime: 'audio/pcmu' }).mime).toBe('audio/PCMU');
  });

  it('refuses an ad hoc recording asked to be encrypted, compressed or Opus', () => {
    for (const extra of [{ encrypt: true }, { compression: 'opus' as const }, { mime: 'audio/opus' }, { mime: 'audio/GSM' }]) {
      expect(() => decideFormat({ ...base, requester: 'client', ...extra })).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_UNSUPPORTED_FORMAT' }));
    }
  });

  it('uses an explicit MIME type as given, canonical case, and refuses one that contradicts the compression', () => {
    expect(decideFormat({ ...base, requester: 'handler', mime: 'AUDIO/GSM', channels: 2 })).toMatchObject({ mime: 'audio/GSM', channels: 1, rule: 'mime' });
    expect(decideFormat({ ...base, mime: 'audio/opus', compression: 'opus' })).toMatchObject({ mime: 'audio/opus', rule: 'mime' });
    expect(() => decideFormat({ ...base, mime: 'audio/PCMU', compression: 'gsm' })).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_UNSUPPORTED_FORMAT' }));
  });

  it('treats a workgroup\'s or handler\'s compression like the Recorder\'s', () => {
    expect(decideFormat({ ...base, requester: 'workgroup', compression: 'gsm' }).mime).toBe('audio/GSM');
    expect(decideFormat({ ...base, requester: 'handler', compression: 'opus', encrypt: true }).extension).toBe('.sasf');
  });

  it('refuses an unknown compression', () => {
    expect(() => decideFormat({ ...base, compression: 'mp3' as never })).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_UNSUPPORTED_FORMAT' }));
  });
});
