import { fileURLToPath } from 'node:url';
import { CapstanError } from '../errors.ts';
import { placeSimulatedCall, waitForStoredRecordings } from '../../plugins/call-source-simulator/simulated-call.ts';
import { numberFlag, parseFlags } from './parse-args.ts';
import { readAudioFile } from './read-audio-file.ts';

/** The sample the caller plays when no --audio is given. */
export const SAMPLE_AUDIO = fileURLToPath(new URL('../../examples/audio/caller.wav', import.meta.url));
export const SAMPLE_CALLEE_AUDIO = fileURLToPath(new URL('../../examples/audio/callee.wav', import.meta.url));

export const CALL_USAGE = `capstan call [--audio FILE.wav] [--callee-audio FILE.wav] [--duration S] [--workgroup W] [--agent A]
             [--from ANI] [--to DNIS] [--codec PCMU|PCMA] [--host URL] [--token T] [--no-wait]

Places a simulated two-leg call through a running host (default http://127.0.0.1:8080): both legs
send real G.711 RTP over UDP in 20 ms packets at real-time pace. The caller plays --audio (an 8 kHz
16-bit WAV; default: the sample in examples/audio/), the callee --callee-audio (default: its sample).
--duration defaults to the caller audio's length. Unless --no-wait, waits until the recordings are
stored and prints where they are. --token (default $CAPSTAN_TOKEN) is an admin API token when the
host has api.tokens.`;

export const callFlags = {
  audio: { type: 'string' },
  'callee-audio': { type: 'string' },
  duration: { type: 'string' },
  workgroup: { type: 'string' },
  agent: { type: 'string' },
  from: { type: 'string' },
  to: { type: 'string' },
  codec: { type: 'string' },
  host: { type: 'string' },
  token: { type: 'string' },
  'no-wait': { type: 'boolean' },
} as const;

export interface CallLine {
  callId: string;
  recordings: { id: string; status: string; audioUrl: string }[];
}

/** Places one call from parsed flags; prints progress to `out`. */
export async function runCall(values: Record<string, string | boolean | undefined>, out: (line: string) => void): Promise<CallLine> {
  const codec = (values.codec as string | undefined) ?? 'PCMU';
  if (codec !== 'PCMU' && codec !== 'PCMA') {
    throw new CapstanError('CAPSTAN_ERR_CLI_USAGE', `capstan call: --codec must be PCMU or PCMA, got "${codec}"`, { details: { flag: 'codec' } });
  }
  const seconds = numberFlag('call', 'duration', values.duration as string | undefined, 0.02);
  const host = ((values.host as string | undefined) ?? 'http://127.0.0.1:8080').replace(/\/$/, '');
  const callerAudio = readAudioFile((values.audio as string | undefined) ?? SAMPLE_AUDIO);
  const calleeAudio = readAudioFile((values['callee-audio'] as string | undefined) ?? SAMPLE_CALLEE_AUDIO);
  const result = await placeSimulatedCall({
    hostUrl: host,
    callerAudio,
    calleeAudio,
    codec,
    ...(seconds !== undefined ? { durationMs: seconds * 1000 } : {}),
    ...(values.from !== undefined ? { from: values.from as string } : {}),
    ...(values.to !== undefined ? { to: values.to as string } : {}),
    workgroup: (values.workgroup as string | undefined) ?? null,
    agent: (values.agent as string | undefined) ?? null,
    ...(values.token !== undefined ? { token: values.token as string } : {}),
  });
  out(`call ${result.callId} on ${result.mediaServerId}: ${(result.durationMs / 1000).toFixed(2)} s, ${result.packetsSent} packets per leg sent, ${result.packetsReceived.caller + result.packetsReceived.callee} relayed back`);
  for (const r of result.recordings) out(`  recording ${r.recordingId} (${r.requester}) → ${r.fileName}`);
  if (values['no-wait'] || result.recordings.length === 0) {
    if (result.recordings.length === 0) out('  no recording was started (no recorder policy matched)');
    return { callId: result.callId, recordings: result.recordings.map((r) => ({ id: r.recordingId, status: 'recording', audioUrl: `${host}/api/v1/recordings/${r.recordingId}/audio` })) };
  }
  const stored = await waitForStoredRecordings(host, result.callId, 30_000, (values.token as string | undefined) ?? process.env.CAPSTAN_TOKEN);
  const recordings = stored.map((r) => ({ id: r.id, status: r.status, audioUrl: `${host}/api/v1/recordings/${r.id}/audio` }));
  for (const r of stored) {
    out(r.status === 'stored'
      ? `  stored ${r.id}: ${((r.durationMs ?? 0) / 1000).toFixed(2)} s, ${r.sizeBytes} bytes → ${host}/api/v1/recordings/${r.id}/audio (store/${r.mediaPath})`
      : `  recording ${r.id} ${r.status}`);
  }
  return { callId: result.callId, recordings };
}

export async function callCommand(args: string[]): Promise<number> {
  const { values } = parseFlags('call', args, callFlags);
  const line = await runCall(values, (l) => process.stdout.write(`${l}\n`));
  return line.recordings.every((r) => r.status !== 'failed') ? 0 : 1;
}
