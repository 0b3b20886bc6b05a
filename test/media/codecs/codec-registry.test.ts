import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BUILTIN_FORMATS, BUILTIN_RECORDING_MIMES } from '../../../media/codecs/builtin-formats.ts';
import type { Codec } from '../../../media/codecs/codec.ts';
import { BUILTIN_CODECS, codecRegistry, createCodecRegistry, loadCodecModules } from '../../../media/codecs/codec-registry.ts';
import { pcmCodec } from '../../../media/codecs/builtin/pcm-codec.ts';

const dir = mkdtempSync(join(tmpdir(), 'codec-registry-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the codec registry', () => {
  it('holds the six built-ins as ordinary entries, matching the pure format table the host uses', () => {
    expect(codecRegistry.mimes()).toEqual([...BUILTIN_RECORDING_MIMES]);
    for (const codec of BUILTIN_CODECS) {
      const table = BUILTIN_FORMATS[codec.mime as keyof typeof BUILTIN_FORMATS];
      expect({ mime: codec.mime, container: codec.container, ext: codec.fileExtension, ch: codec.supportsChannels }).toEqual({
        mime: codec.mime,
        container: table.container,
        ext: table.fileExtension,
        ch: table.supportsChannels,
      });
    }
  });

  it('finds codecs case-insensitively and refuses unknown formats and channel counts with CAPSTAN_ERR_UNSUPPORTED_FORMAT', () => {
    expect(codecRegistry.require('audio/gsm').mime).toBe('audio/GSM');
    expect(() => codecRegistry.require('audio/mp3')).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_UNSUPPORTED_FORMAT' }));
    expect(() => codecRegistry.require('audio/x-truespeech', 2)).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_UNSUPPORTED_FORMAT' }));
  });

  it('gives every WAV codec the fmt chunk of REFERENCE.md', () => {
    const fmt = (mime: string) => {
      const c = codecRegistry.require(mime);
      if (c.container !== 'wav') throw new Error('not wav');
      const f = c.wavFormat(1);
      return [f.formatTag, f.avgBytesPerSec, f.blockAlign, f.bitsPerSample, f.extra === undefined ? 'none' : f.extra.length, f.samplesPerBlock];
    };
    expect(fmt('audio/L16')).toEqual([1, 16000, 2, 16, 'none', 1]);
    expect(fmt('audio/PCMA')).toEqual([6, 8000, 1, 8, 0, 1]);
    expect(fmt('audio/PCMU')).toEqual([7, 8000, 1, 8, 0, 1]);
    expect(fmt('audio/GSM')).toEqual([0x31, 1625, 65, 0, 2, 320]);
    expect(fmt('audio/x-truespeech')).toEqual([0x22, 1067, 32, 1, 32, 240]);
  });

  it('refuses a second codec for a MIME type unless replacing, and malformed codecs, with CAPSTAN_ERR_PLUGIN', () => {
    const registry = createCodecRegistry();
    expect(() => registry.register(pcmCodec)).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_PLUGIN' }));
    registry.register({ ...pcmCodec, name: 'my PCM' }, { replace: true });
    expect(registry.require('audio/L16').name).toBe('my PCM');
    expect(() => registry.register({ ...pcmCodec, mime: 'audio/x-bad', fileExtension: '.opus' } as unknown as Codec)).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_PLUGIN' }));
    expect(() => registry.register({ ...pcmCodec, mime: 'not a mime' })).toThrow(expect.objectContaining({ code: 'CAPSTAN_ERR_PLUGIN' }));
  });

  it('loads a codec plugin module and records with it like a built-in', async () => {
    const plugin = join(dir, 'l16-copy.ts');
    const pcm = new URL('../../../media/codecs/builtin/pcm-codec.ts', import.meta.url).pathname;
    // A plugin's codec: here the PCM codec under another MIME type, default-exported.
    writeFileSync(plugin, `import { pcmCodec } from ${JSON.stringify(pcm)};\nexport default { ...pcmCodec, mime: 'audio/x-capstan-test', name: 'test PCM' };\n`);
    const registry = createCodecRegistry();
    const loaded = await loadCodecModules(registry, [plugin]);
    expect(loaded.map((c) => c.mime)).toEqual(['audio/x-capstan-test']);
    const encoder = registry.require('audio/X-Capstan-Test', 2).createEncoder(2);
    expect(Array.from(encoder.push(Int16Array.from([1, -2])))).toEqual([1, 0, 0xfe, 0xff]);
    await expect(loadCodecModules(registry, [join(dir, 'missing.ts')])).rejects.toMatchObject({ code: 'CAPSTAN_ERR_PLUGIN' });
  });
});
