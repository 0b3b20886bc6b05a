/**
 * bench/sasf: what SASF encryption costs while recording.
 *
 * One recording's worth of audio (default one hour of 8 kHz 16-bit stereo = 115.2 MB) is handed
 * over in 20 ms frames (640 bytes), as the media server's recorder does, three ways:
 *   1. plain   — fs.createWriteStream, the cost of writing an unencrypted file (the baseline);
 *   2. sasf    — SasfWriter, the same bytes encrypted and written (what a SASF recording costs);
 *   3. encrypt — SasfEncoder alone, no I/O: the encryption itself.
 * CPU is process.cpuUsage() (user + system, all threads, so the libuv threads doing the file writes
 * count). The lead's bench runner sets encryptCpuMs against the recording CPU measured in the same
 * run; encryptCoreShare is the fraction of one core that encrypting one live recording takes.
 *
 * Run alone: node --no-node-snapshot --import tsx -e "import('./bench/sasf.ts').then(async m => console.log(await m.benchSasf()))"
 */
import { generateKeyPairSync } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SasfEncoder } from '../media/sasf/encoder.ts';
import type { SasfAead, SasfMetadata } from '../media/sasf/format.ts';
import { decryptSasf } from '../media/sasf/reader.ts';
import { SasfWriter } from '../media/sasf/writer.ts';
import { SasfFileSink } from '../media/recording/file-sink.ts';
import { recordThroughPipeline } from './recording-pipeline.ts';
import { measureUdpCost } from './udp-cost.ts';

export interface SasfBenchOptions {
  /** Seconds of audio per run. Default 3600 (one hour). */
  audioSeconds?: number;
  /** Channels of 8 kHz 16-bit audio. Default 2 (dual-channel). */
  channels?: number;
  /** Plaintext bytes per chunk. Default 65 536 (the SASF default). */
  chunkSize?: number;
  /** Directory for the scratch files. Default: a fresh folder in the OS temp dir, removed afterwards. */
  dir?: string;
}

export interface SasfBenchResult {
  audioSeconds: number;
  /** Bytes of audio per run. */
  bytes: number;
  /** Encryption throughput, AES-256-GCM, MB (10^6 B) per CPU second, no I/O. */
  encryptMBps: number;
  /** The same with ChaCha20-Poly1305 (for CPUs without AES instructions). */
  encryptChachaMBps: number;
  /** Decryption (verify + decrypt in memory) throughput, AES-256-GCM, MB per CPU second. */
  decryptMBps: number;
  /** CPU to encrypt the whole run's audio (SasfEncoder alone). */
  encryptCpuMs: number;
  /** CPU to write the same bytes through a plain fs write stream (the baseline). */
  plainWriteCpuMs: number;
  /** CPU to write them as SASF with SasfWriter (encryption and I/O together). */
  sasfWriteCpuMs: number;
  /** encryptCpuMs / plainWriteCpuMs. */
  encryptVsPlainWrite: number;
  /** (sasfWriteCpuMs - plainWriteCpuMs) / plainWriteCpuMs: can be negative, SasfWriter writes in 64 KiB chunks. */
  sasfWriteOverPlainWrite: number;
  /** encryptCpuMs / audio duration: the share of one core that encrypting one live recording takes. */
  encryptCoreShare: number;
}

const FRAME_MS = 20;

function cpuMs(start: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(start);
  return (d.user + d.system) / 1000;
}

export async function benchSasf(options: SasfBenchOptions = {}): Promise<SasfBenchResult> {
  const audioSeconds = options.audioSeconds ?? 3600;
  const channels = options.channels ?? 2;
  const chunkSize = options.chunkSize ?? 65_536;
  const frameBytes = (8000 * FRAME_MS * 2 * channels) / 1000;
  const frames = Math.round((audioSeconds * 1000) / FRAME_MS);
  const bytes = frames * frameBytes;
  // Audio-like content; AES-GCM and ChaCha20 cost the same for any content, but a real frame keeps it honest.
  const frame = Buffer.alloc(frameBytes);
  for (let i = 0; i < frameBytes / 2; i++) frame.writeInt16LE(Math.round(8000 * Math.sin(i / 3)), 2 * i);
  const { publicKey, privateKey } = generateKeyPairSync('x25519');
  const metadata: SasfMetadata = { recordingId: 'bench', mimeType: 'audio/L16', sampleRate: 8000, channels };
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), 'capstan-bench-sasf-')));

  const encryptOnly = (aead: SasfAead): number => {
    const start = process.cpuUsage();
    const encoder = new SasfEncoder({ publicKey, metadata, chunkSize, aead });
    let sink = 0;
    for (let i = 0; i < frames; i++) for (const c of encoder.push(frame)) sink += c.length;
    for (const c of encoder.finish()) sink += c.length;
    const ms = cpuMs(start);
    if (sink < bytes) throw new Error('encoder produced less than its input');
    return ms;
  };

  try {
    // Warm up the cipher and the JIT so the first timed run is not charged for them.
    encryptOnly('aes-256-gcm');

    const plainPath = join(dir, 'plain.wav');
    const plainStart = process.cpuUsage();
    const stream = createWriteStream(plainPath);
    for (let i = 0; i < frames; i++) {
      if (!stream.write(frame)) await new Promise<void>((resolve) => stream.once('drain', () => resolve()));
    }
    await new Promise<void>((resolve, reject) => stream.end((e?: Error | null) => (e ? reject(e) : resolve())));
    const plainWriteCpuMs = cpuMs(plainStart);

    const sasfPath = join(dir, 'recording.sasf');
    const sasfStart = process.cpuUsage();
    const writer = await SasfWriter.open(sasfPath, { publicKey, metadata, chunkSize, sync: false });
    for (let i = 0; i < frames; i++) writer.write(frame);
    await writer.close();
    const sasfWriteCpuMs = cpuMs(sasfStart);

    const encryptCpuMs = encryptOnly('aes-256-gcm');
    const chachaMs = encryptOnly('chacha20-poly1305');

    // Decryption throughput on a smaller file (at most ~10 minutes) to bound memory.
    const decryptFrames = Math.min(frames, 30_000);
    const encoder = new SasfEncoder({ publicKey, metadata, chunkSize });
    const parts = [encoder.headerBytes];
    for (let i = 0; i < decryptFrames; i++) parts.push(...encoder.push(frame));
    parts.push(...encoder.finish());
    const file = Buffer.concat(parts);
    const decStart = process.cpuUsage();
    const { plaintext } = await decryptSasf(file, { privateKey });
    const decryptMs = cpuMs(decStart);
    if (plaintext.length !== decryptFrames * frameBytes) throw new Error('decryption lost bytes');

    const mbps = (b: number, ms: number): number => b / 1e6 / (ms / 1000);
    return {
      audioSeconds,
      bytes,
      encryptMBps: mbps(bytes, encryptCpuMs),
      encryptChachaMBps: mbps(bytes, chachaMs),
      decryptMBps: mbps(plaintext.length, decryptMs),
      encryptCpuMs,
      plainWriteCpuMs,
      sasfWriteCpuMs,
      encryptVsPlainWrite: encryptCpuMs / plainWriteCpuMs,
      sasfWriteOverPlainWrite: (sasfWriteCpuMs - plainWriteCpuMs) / plainWriteCpuMs,
      encryptCoreShare: encryptCpuMs / (audioSeconds * 1000),
    };
  } finally {
    if (options.dir === undefined) await rm(dir, { recursive: true, force: true });
  }
}

export interface SasfRecordingBenchResult {
  audioSeconds: number;
  /** CPU of recording the call to a plain WAV (parse, decode, place, mix, encode, write, flush). */
  plainRecordingCpuMs: number;
  /** The same recording written as SASF. */
  sasfRecordingCpuMs: number;
  /** CPU of encrypting the same bytes alone (SasfEncoder, no I/O), in the same run. */
  encryptCpuMs: number;
  /** encryptCpuMs / (plainRecordingCpuMs + encryptCpuMs): the share of recording CPU that encryption takes. Goal < 3 %. */
  encryptionShare: number;
  /** (sasf − plain) / plain: the whole difference, I/O pattern included (SASF writes 64 KiB chunks, so it can be negative). */
  sasfOverPlain: number;
  /** CPU of receiving and relaying the call's packets (2 legs × 50/s, measured per packet in the same run). */
  networkCpuMs: number;
  /** encryptCpuMs / (plain recording + network + encryption): the share in a media server that relays and records. */
  encryptionShareWithNetwork: number;
}

/**
 * The measure: the CPU of encryption as a share of recording CPU, in the same run. The
 * same two-leg call is recorded through the media server's pipeline twice, to a plain file and to
 * SASF, alternating three times each; the medians are compared.
 */
export async function benchSasfRecording(audioSeconds = 600): Promise<SasfRecordingBenchResult> {
  const { publicKey } = generateKeyPairSync('x25519');
  const sasf = (path: string) => SasfFileSink.create(path, { publicKey, metadata: { recordingId: 'bench', mimeType: 'audio/L16', sampleRate: 8000, channels: 2 } });
  await recordThroughPipeline(30); // warm-up
  const plain: number[] = [];
  const enc: number[] = [];
  for (let i = 0; i < 3; i++) {
    plain.push((await recordThroughPipeline(audioSeconds)).cpuMs);
    enc.push((await recordThroughPipeline(audioSeconds, sasf)).cpuMs);
  }
  // Encryption alone over the same bytes, in the 100 ms blocks the pipeline writes.
  const block = Buffer.alloc(3200, 7);
  const encryptRuns: number[] = [];
  // The first run warms the cipher and the JIT and is not counted.
  for (let i = 0; i < 4; i++) {
    const start = process.cpuUsage();
    const encoder = new SasfEncoder({ publicKey, metadata: { recordingId: 'bench', mimeType: 'audio/L16', sampleRate: 8000, channels: 2 } });
    for (let b = 0; b < audioSeconds * 10; b++) encoder.push(block);
    encoder.finish();
    if (i > 0) encryptRuns.push(cpuMs(start));
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
  const p = median(plain);
  const e = median(enc);
  const x = median(encryptRuns);
  const udp = await measureUdpCost();
  const network = (audioSeconds * 100 * (udp.receiveUsPerPacket + udp.sendUsPerPacket)) / 1000;
  return {
    audioSeconds,
    plainRecordingCpuMs: p,
    sasfRecordingCpuMs: e,
    encryptCpuMs: x,
    encryptionShare: x / (p + x),
    sasfOverPlain: (e - p) / p,
    networkCpuMs: network,
    encryptionShareWithNetwork: x / (p + network + x),
  };
}
