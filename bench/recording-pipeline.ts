/**
 * One recording's media path without sockets or timers, as fast as the CPU allows: for every
 * 20 ms, each of two legs' RTP packets is parsed and G.711-decoded and placed on its timeline;
 * every 100 ms the legs are mixed to dual-channel PCM and written; every second the file is
 * flushed — exactly the work the media server does per recorded call (the UDP receive aside).
 * Used to set a cost (encryption, a codec) against the recording's own CPU in the same run.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ulawDecode, ulawEncode } from '../media/codecs/g711.ts';
import { LegTimeline } from '../media/recording/leg-timeline.ts';
import { RecordingMixer } from '../media/recording/recording-mixer.ts';
import type { FileSink } from '../media/recording/file-sink.ts';
import { RtpPacket } from '../media/rtp/rtp-packet.ts';
import { encodeWavSamples } from '../media/wav/wav-format.ts';
import { WavWriter } from '../media/wav/wav-writer.ts';

export interface PipelineRun {
  cpuMs: number;
  audioSeconds: number;
  bytes: number;
}

/** Records `audioSeconds` of a two-leg PCMU call into `dir` through `openSink` (default plain file). */
export async function recordThroughPipeline(audioSeconds: number, openSink?: (path: string) => Promise<FileSink>, dir?: string): Promise<PipelineRun> {
  const work = dir ?? (await mkdtemp(join(tmpdir(), 'capstan-bench-pipeline-')));
  // Speech-like content: a mix of tones, different per leg.
  const pcm = (f: number) => Int16Array.from({ length: 160 }, (_, i) => Math.round(6000 * Math.sin((i * f) / 8000 * 2 * Math.PI)));
  const packets = (['caller', 'callee'] as const).map((_, leg) =>
    Array.from({ length: 50 }, (_, i) =>
      new RtpPacket({ payloadType: 0, sequenceNumber: i, timestamp: i * 160, ssrc: leg + 1, payload: ulawEncode(pcm(300 + 40 * leg + i)) }).serialize(),
    ),
  );
  const legs = { caller: new LegTimeline(), callee: new LegTimeline() };
  const mixer = new RecordingMixer(legs, 2);
  const start = process.cpuUsage();
  const writer = await WavWriter.create(join(work, 'bench.wav'), { encoding: 'pcm16', channels: 2, sampleRate: 8000 }, openSink);
  const ticks = audioSeconds * 50;
  for (let t = 0; t < ticks; t++) {
    for (const [i, name] of (['caller', 'callee'] as const).entries()) {
      // Re-stamp a template packet so every one is parsed from bytes, as off the wire.
      const bytes = packets[i]![t % 50]!;
      bytes.writeUInt16BE(t & 0xffff, 2);
      bytes.writeUInt32BE((t * 160) >>> 0, 4);
      const p = RtpPacket.parse(bytes);
      legs[name].push({ ssrc: p.ssrc, sequenceNumber: p.sequenceNumber, timestamp: p.timestamp, samples: ulawDecode(p.payload) }, t * 160);
    }
    if (t % 5 === 4) await writer.write(encodeWavSamples('pcm16', mixer.mix((t + 1) * 160 - 1600)));
    if (t % 50 === 49) await writer.flush();
  }
  await writer.write(encodeWavSamples('pcm16', mixer.mix(ticks * 160)));
  const { dataBytes } = await writer.finalize();
  const d = process.cpuUsage(start);
  if (dir === undefined) await rm(work, { recursive: true, force: true });
  return { cpuMs: (d.user + d.system) / 1000, audioSeconds, bytes: dataBytes };
}
