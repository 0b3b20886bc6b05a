/**
 * Recovery of a `.part` Ogg file (Ogg Opus recording) left by a crash. An Ogg file is written
 * append-only, so everything before the cut is already final; only the tail can be damaged: a
 * page cut short, or never synced. Repair keeps the whole pages (each CRC-verified) from the
 * start up to the first one that is damaged or missing, drops a trailing page on which no packet
 * ends (the rest of its packet is lost), marks the last page kept end-of-stream (its granule
 * position is already the true end of the audio it completes), truncates, syncs and renames the
 * file to its final name. ffmpeg and browsers then play it to that point.
 */
import { open, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { CapstanError } from '../../../core/errors.ts';
import { PART_SUFFIX, syncDirectory } from '../../recording/part-file.ts';
import { OggPage } from './ogg-page.ts';

export interface OggRepairResult {
  /** The final path (without `.part`). */
  path: string;
  /** Pages kept. */
  pages: number;
  /** Bytes kept. */
  bytes: number;
  /** Bytes dropped at the end. */
  droppedBytes: number;
  /** Granule position of the last page kept (48 kHz samples including pre-skip, for Opus). */
  granule: bigint;
}

export interface OggRepairOptions {
  /**
   * Pages that must survive for the file to be usable: the codec's header pages (2 for Opus:
   * OpusHead, OpusTags). Default 2.
   */
  minPages?: number;
}

/**
 * Repairs `partPath` (which must end in `.part`) in place and renames it.
 * @throws CapstanError CAPSTAN_ERR_OGG_INVALID when not even the header pages are intact;
 *   CAPSTAN_ERR_AUDIO_FILE when the name does not end in `.part`.
 */
export async function repairOgg(partPath: string, options: OggRepairOptions = {}): Promise<OggRepairResult> {
  if (!partPath.endsWith(PART_SUFFIX)) throw new CapstanError('CAPSTAN_ERR_AUDIO_FILE', `${partPath} is not a ${PART_SUFFIX} file`);
  const minPages = options.minPages ?? 2;
  const finalPath = partPath.slice(0, -PART_SUFFIX.length);
  const fh = await open(partPath, 'r+');
  let result: OggRepairResult;
  try {
    const { size } = await fh.stat();
    const buf = Buffer.alloc(size);
    await fh.read(buf, 0, size, 0);
    const pages: { page: OggPage; offset: number }[] = [];
    let offset = 0;
    while (offset < size) {
      let page: OggPage;
      try {
        page = OggPage.parse(buf, offset);
      } catch {
        break; // the damaged tail: everything from here on is dropped
      }
      pages.push({ page, offset });
      offset += page.byteLength;
    }
    // A page on which no packet ends carries granule -1: its packet's end was lost.
    while (pages.length > minPages && pages[pages.length - 1]!.page.granule === -1n) offset = pages.pop()!.offset;
    if (pages.length < minPages) {
      throw new CapstanError('CAPSTAN_ERR_OGG_INVALID', `${partPath}: only ${pages.length} intact Ogg page(s), the stream needs ${minPages} header pages`, {
        details: { reason: 'truncated', pages: pages.length },
      });
    }
    const last = pages[pages.length - 1]!;
    await fh.truncate(offset);
    if (!last.page.eos) {
      // Same length, new flag and CRC: readers that wait for EOS (or check it) see a finished stream.
      const copy = new OggPage({ ...last.page, segments: Uint8Array.from(last.page.segments), body: Uint8Array.from(last.page.body), eos: true });
      const bytes = copy.serialize();
      await fh.write(bytes, 0, bytes.length, last.offset);
    }
    await fh.datasync();
    result = { path: finalPath, pages: pages.length, bytes: offset, droppedBytes: size - offset, granule: last.page.granule };
  } finally {
    await fh.close();
  }
  await rename(partPath, finalPath);
  await syncDirectory(dirname(finalPath));
  return result;
}
