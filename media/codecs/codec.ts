/**
 * The codec plugin contract: what a recording format is to the media server, `capstan transcode`
 * and the benchmarks. Every format Capstan writes — the built-ins (L16, PCMU, PCMA, GSM,
 * TrueSpeech, Opus) and any a plugin adds — is one `Codec` entry in a `CodecRegistry`
 * (codec-registry.ts); nothing else in the media path knows codec names.
 *
 * A codec is an encoder plus the container facts the writers need:
 *
 * - `container: 'wav'` — the encoder turns interleaved 16-bit PCM into the bytes of the WAV
 *   `data` chunk, whole blocks only; `wavFormat(channels)` gives the `fmt ` chunk. The WAV
 *   writer (media/wav) writes the header first with placeholder sizes, appends blocks, and
 *   completes the sizes and the `fact` chunk (every non-PCM format gets one, carrying the true
 *   sample count) through the sink's rewrite of already-written bytes — which a plain file does
 *   at once and an SASF sink applies in its authenticated trailer.
 * - `container: 'ogg'` — the encoder's output is already the container: Ogg pages, header pages
 *   first. An Ogg file is append-only (nothing is ever rewritten), so it needs no header logic
 *   from the writer; `flush()` closes the page in progress so a crash keeps everything encoded.
 *
 * Encoders are pure and synchronous (no I/O): `push` returns what can be written now and keeps
 * the remainder (less than one block) for the next call; `end` pads that remainder with silence
 * to a whole block and returns the last bytes. The real number of samples is kept by the writer
 * (WAV `fact`) or by the encoder itself (Ogg granule position of the last page), so the padding
 * is never played.
 */

/** A codec MIME type as requests carry it: `audio/<subtype>`. */
export const CODEC_MIME_PATTERN = /^audio\/[A-Za-z0-9][A-Za-z0-9.+_-]{0,62}$/;

/** Where a codec's output lives on disk. */
export type CodecContainer = 'wav' | 'ogg';

/** File extension of the (unencrypted) file; an SASF file wraps it and is named `.sasf`. */
export type CodecFileExtension = '.wav' | '.opus';

/** A streaming encoder for one recording: one instance per file, never shared. */
export interface CodecEncoder {
  /** Channels of the interleaved input (1 or 2). */
  readonly channels: 1 | 2;
  /**
   * Encodes interleaved 16-bit samples (a multiple of `channels` in length) and returns the
   * bytes complete so far: whole blocks (WAV) or whole pages (Ogg); possibly empty. `pcm` is only
   * valid during the call (a recording reuses its buffer): copy what is kept for a later block.
   * The bytes returned (here and by flush and end) belong to the caller, which writes them as
   * they are later: return a fresh array, not one the encoder reuses.
   */
  push(pcm: Int16Array): Uint8Array;
  /**
   * Optional: `push` without an allocation per call. The bytes returned are the encoder's own
   * and only valid until the next `pushTransient` call of any encoder (the built-in ones share
   * one buffer): the caller copies them at once. A media server's WAV writer uses it when
   * present: thousands of fresh output arrays a second (each an ArrayBuffer outside V8's heap)
   * made V8 run a full collection about every second, and on a media server pinned to one core
   * its marking threads held the event loop for 80–150 ms each time (docs/benchmarks.md).
   * Otherwise the same as `push`, sharing its state (a block codec's partial block).
   */
  pushTransient?(pcm: Int16Array): Uint8Array;
  /**
   * Returns bytes that make everything pushed so far (whole blocks) readable after a crash,
   * without padding anything: for Ogg, the page in progress; for WAV, nothing (push already
   * returns every whole block). The partial block stays buffered.
   */
  flush(): Uint8Array;
  /**
   * Pads the buffered partial block with silence, encodes it and returns the last bytes (for
   * Ogg, with the end-of-stream page). Nothing may be pushed afterwards. Idempotent.
   */
  end(): Uint8Array;
}

/** The `fmt ` chunk of a WAV codec (WAVEFORMATEX). */
export interface WavFormat {
  /** wFormatTag, e.g. 0x0001 PCM, 0x0006 A-law, 0x0007 µ-law, 0x0031 GSM 6.10, 0x0022 TrueSpeech. */
  formatTag: number;
  channels: number;
  sampleRate: number;
  /** nAvgBytesPerSec as players expect it (for GSM 1625, for TrueSpeech 1067: rounded up). */
  avgBytesPerSec: number;
  /** nBlockAlign: bytes per block; the data chunk always holds whole blocks. */
  blockAlign: number;
  /** wBitsPerSample (0 for GSM, 1 for TrueSpeech: what their ACM codecs write). */
  bitsPerSample: number;
  /**
   * The bytes after cbSize (cbSize is their length). `undefined` writes the 16-byte PCM fmt
   * chunk without a cbSize field; an empty array writes an 18-byte fmt chunk with cbSize 0.
   */
  extra: Uint8Array | undefined;
  /** Samples per channel in one block (1 for PCM and G.711, 320 for GSM, 240 for TrueSpeech). */
  samplesPerBlock: number;
}

interface CodecBase {
  /** MIME type requests use to name the format (matched case-insensitively), e.g. `audio/GSM`. */
  readonly mime: string;
  /** Short human name for logs, docs and the benchmark, e.g. `GSM 06.10 (WAV49)`. */
  readonly name: string;
  readonly fileExtension: CodecFileExtension;
  /** Samples per channel the encoder consumes at a time (a block or a packet). */
  readonly frameSamples: number;
  /** Channel counts the codec can write; a request for another count is refused. */
  readonly supportsChannels: readonly (1 | 2)[];
  /** Audio is 8 kHz: every codec encodes 8000 Hz input. */
  readonly sampleRate: 8000;
  /** A new encoder for one stream; `channels` must be one of `supportsChannels`. */
  createEncoder(channels: 1 | 2): CodecEncoder;
}

export interface WavCodec extends CodecBase {
  readonly container: 'wav';
  readonly fileExtension: '.wav';
  /** The fmt chunk for `channels`. */
  wavFormat(channels: 1 | 2): WavFormat;
}

export interface OggCodec extends CodecBase {
  readonly container: 'ogg';
}

export type Codec = WavCodec | OggCodec;
