import { describe, expect, it } from 'vitest';
import { inspectSasf } from '../../../media/sasf/inspect.ts';
import { encodeSample, expectCode, metadata, newKeys, pattern } from './sasf-fixtures.ts';

const keys = newKeys();
const sample = encodeSample(pattern(700), keys);

describe('inspectSasf', () => {
  it('reads the header fields, key id and chunk count of a complete file without the private key', async () => {
    const info = await inspectSasf(sample.file);
    expect(info).toMatchObject({
      version: 1,
      aead: 'aes-256-gcm',
      recordingId: metadata.recordingId,
      mimeType: metadata.mimeType,
      sampleRate: 8000,
      channels: 2,
      createdAt: metadata.createdAt,
      chunkSize: 256,
      chunkCount: 3,
      bodyLength: 700,
      complete: true,
      end: 'final',
      problem: undefined,
      verified: false,
      fileLength: sample.file.length,
      headerLength: sample.headerLength,
    });
    expect(info.keyId).toMatch(/^[0-9a-f]{16}$/);
  });

  it('says a file cut at a chunk boundary or inside a chunk is not complete', async () => {
    const atBoundary = await inspectSasf(sample.file.subarray(0, sample.chunks[2]!.end));
    expect(atBoundary).toMatchObject({ complete: false, end: 'boundary', chunkCount: 3 });
    expect(atBoundary.problem).toMatch(/no final chunk/);
    const inside = await inspectSasf(sample.file.subarray(0, sample.chunks[1]!.start + 10));
    expect(inside).toMatchObject({ complete: false, end: 'cut', chunkCount: 1, bodyLength: 256 });
  });

  it('says a file with bytes after its final chunk is not complete', async () => {
    const info = await inspectSasf(Buffer.concat([sample.file, Buffer.alloc(5)]));
    expect(info).toMatchObject({ complete: false, end: 'final', trailingBytes: 5 });
  });

  it('refuses something that is not SASF, and a header cut short, with coded errors', async () => {
    await expectCode(() => inspectSasf(Buffer.from('OggS and then some')), 'CAPSTAN_ERR_SASF_FORMAT');
    await expectCode(() => inspectSasf(sample.file.subarray(0, 40)), 'CAPSTAN_ERR_SASF_TRUNCATED');
    await expectCode(() => inspectSasf('/nonexistent/file.sasf'), 'CAPSTAN_ERR_FILE_NOT_FOUND');
  });
});
