/**
 * `audio/opus`: Opus in Ogg (RFC 7845), `.opus`, mono or dual-channel, through OggOpusWriter
 * (media/codecs/opus): 20 ms packets from libopus (@discordjs/opus) at its default settings,
 * pre-skip 312, one page per second of audio (or per flush), exact end trimming by the last
 * page's granule position. The encoder's output is the container itself (Ogg pages).
 *
 * Bitrate: mono uses libopus's automatic choice (11 kbit/s at 8 kHz). Dual-channel is set to
 * 32 kbit/s because the automatic 19 kbit/s codes the pair as mid/side with prediction and lets
 * one party bleed into the other's channel: measured on espeak speech with the other channel
 * silent, −13.6 dB of bleed at 19 kbit/s, total collapse to mono (0 dB) at 16 kbit/s, −25 dB at
 * 24 kbit/s, −59 dB at 32 kbit/s. Dual-channel recordings exist to keep the parties apart.
 */
import { OggOpusWriter, OPUS_FRAME_SAMPLES } from '../opus/ogg-opus-writer.ts';
import type { CodecEncoder, OggCodec } from '../codec.ts';

function concat(pages: Buffer[]): Uint8Array {
  return pages.length === 1 ? pages[0]! : Buffer.concat(pages);
}

class OggOpusEncoder implements CodecEncoder {
  readonly channels: 1 | 2;
  private readonly writer: OggOpusWriter;

  constructor(channels: 1 | 2) {
    this.channels = channels;
    this.writer = new OggOpusWriter(channels === 2 ? { channels, bitrate: OPUS_DUAL_CHANNEL_BITRATE } : { channels });
  }

  push(pcm: Int16Array): Uint8Array {
    return concat(this.writer.push(pcm));
  }

  flush(): Uint8Array {
    return concat(this.writer.flush());
  }

  end(): Uint8Array {
    return concat(this.writer.end());
  }
}

/** Dual-channel bitrate, bit/s: see above. */
export const OPUS_DUAL_CHANNEL_BITRATE = 32_000;

export const opusCodec: OggCodec = {
  mime: 'audio/opus',
  name: 'Opus (Ogg)',
  container: 'ogg',
  fileExtension: '.opus',
  frameSamples: OPUS_FRAME_SAMPLES,
  supportsChannels: [1, 2],
  sampleRate: 8000,
  createEncoder: (channels) => new OggOpusEncoder(channels),
};
