/**
 * Minimal Ogg reader (RFC 3533) for tests, `inspect` and SASF tools: splits a complete file
 * into pages (every page CRC-verified, see OggPage.parse) and reassembles the packets of each
 * logical bitstream. Strict on purpose: it does not resynchronise after garbage, because Capstan
 * only reads files it wrote or was asked to check; anything malformed throws
 * CAPSTAN_ERR_OGG_INVALID with `details.reason`.
 */

import { CapstanError } from '../../../core/errors.ts';
import { OggPage } from './ogg-page.ts';

export interface OggPacket {
  serial: number;
  data: Buffer;
  /**
   * Granule position of the page where the packet ends if it is the last packet ending there,
   * otherwise -1n (Ogg only records one granule position per page).
   */
  granule: bigint;
  /** Sequence number of the page where the packet ends. */
  pageSequence: number;
  /** The packet is the first of its bitstream (on the BOS page). */
  bos: boolean;
  /** The packet ends on the EOS page. */
  eos: boolean;
}

function invalid(message: string, details: Record<string, unknown>): CapstanError {
  return new CapstanError('CAPSTAN_ERR_OGG_INVALID', message, { details });
}

/** Parses every page of a complete Ogg file; bytes after the last page are an error. */
export function readOggPages(buf: Uint8Array): OggPage[] {
  const pages: OggPage[] = [];
  let offset = 0;
  while (offset < buf.length) {
    const page = OggPage.parse(buf, offset);
    pages.push(page);
    offset += page.byteLength;
  }
  return pages;
}

/**
 * Reassembles packets from pages (of one or several multiplexed bitstreams), checking per
 * bitstream: BOS first, page sequence numbers without gaps, the continued flag exactly when a
 * packet is pending, nothing after EOS. A packet still unfinished at the end is an error.
 */
export function readOggPackets(input: Uint8Array | readonly OggPage[]): OggPacket[] {
  const pages = input instanceof Uint8Array ? readOggPages(input) : input;
  const streams = new Map<number, { nextSequence: number; pending: Uint8Array[]; eos: boolean; first: boolean }>();
  const packets: OggPacket[] = [];
  for (const page of pages) {
    let st = streams.get(page.serial);
    if (st === undefined) {
      if (!page.bos) throw invalid('The first page of an Ogg bitstream lacks the BOS flag', { reason: 'bos', serial: page.serial, sequence: page.sequence });
      st = { nextSequence: page.sequence, pending: [], eos: false, first: true };
      streams.set(page.serial, st);
    } else if (page.bos) {
      throw invalid('BOS flag on a page that does not start its bitstream', { reason: 'bos', serial: page.serial, sequence: page.sequence });
    }
    if (st.eos) throw invalid('Ogg page after the end of its bitstream', { reason: 'eos', serial: page.serial, sequence: page.sequence });
    if (page.sequence !== st.nextSequence) {
      throw invalid('Ogg page sequence gap: a page is missing', { reason: 'sequence', serial: page.serial, expected: st.nextSequence, got: page.sequence });
    }
    st.nextSequence = (page.sequence + 1) >>> 0;
    if (page.continued !== st.pending.length > 0) {
      throw invalid(page.continued ? 'Continued Ogg page without a packet to continue' : 'Ogg packet interrupted by a page that does not continue it', {
        reason: 'continued',
        serial: page.serial,
        sequence: page.sequence,
      });
    }
    const pieces = page.pieces();
    const lastComplete = pieces.reduce((last, p, i) => (p.complete ? i : last), -1);
    pieces.forEach((piece, i) => {
      st.pending.push(page.body.subarray(piece.offset, piece.offset + piece.length));
      if (!piece.complete) return;
      packets.push({
        serial: page.serial,
        data: Buffer.concat(st.pending),
        granule: i === lastComplete ? page.granule : -1n,
        pageSequence: page.sequence,
        bos: st.first,
        eos: page.eos && i === lastComplete,
      });
      st.first = false;
      st.pending = [];
    });
    if (page.eos) st.eos = true;
  }
  for (const [serial, st] of streams) {
    if (st.pending.length > 0) throw invalid('The Ogg file ends inside a packet', { reason: 'truncated', serial });
  }
  return packets;
}
