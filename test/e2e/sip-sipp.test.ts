import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Host } from '../../core/host.ts';
import { alignedCorrelation } from '../helpers/audio-quality.ts';
import { ffmpegDecode } from '../helpers/ffmpeg-audio.ts';
import { startTestHost } from '../helpers/host.ts';
import { until } from '../helpers/until.ts';
import { SIPP_SCENARIOS, sipp } from '../helpers/sipp.ts';
import { freeTcpPort, freeUdpPort } from '../helpers/free-port.ts';
import { pcapRtpPayloads } from '../helpers/pcap.ts';
import { execFileSync } from 'node:child_process';

const PCAPS = '/usr/share/sip-tester';



/** The A-law audio in a sipp sample pcap, decoded by ffmpeg: the independent reference. */
function pcapAudio(file: string, dir: string): Int16Array {
  const raw = join(dir, 'pcap.alaw');
  writeFileSync(raw, Buffer.concat(pcapRtpPayloads(readFileSync(file)).filter((p) => p.payloadType === 8).map((p) => p.payload)));
  const pcm = execFileSync('ffmpeg', ['-loglevel', 'error', '-f', 'alaw', '-ar', '8000', '-ac', '1', '-i', raw, '-f', 's16le', '-']);
  return new Int16Array(pcm.buffer, pcm.byteOffset, pcm.length / 2);
}

interface Recording {
  id: string;
  status: string;
  uri: string | null;
  dtmf: { leg: string; digit: string }[];
}

describe('SIP calls through the B2BUA, with sipp on both sides', () => {
  let host: Host;
  let uasPort: number;
  let tcpUasPort: number;
  let dynamicUasPort: number;
  let failoverUasPort: number;
  let transferorPort: number;
  let targetPort: number;
  let holdPort: number;
  let dtmfUasPort: number;
  const transfers: { callId: string; to: string }[] = [];
  const callEvents: { name: string; callId: string; leg?: string; to?: string; workgroup?: string | null }[] = [];
  const offered: { callId: string; source: string; from: string; to: string; direction: string; location: string }[] = [];
  let dir: string;
  const children: ChildProcess[] = [];
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'capstan-sipp-'));
    symlinkSync(PCAPS, join(dir, 'pcap'));
    uasPort = await freeUdpPort();
    tcpUasPort = await freeTcpPort();
    dynamicUasPort = await freeUdpPort();
    failoverUasPort = await freeUdpPort();
    transferorPort = await freeUdpPort();
    targetPort = await freeUdpPort();
    holdPort = await freeUdpPort();
    dtmfUasPort = await freeUdpPort();
    host = await startTestHost({
      // 700...: a dynamic line recorded only on request; everything else recorded from the start.
      recorder: { policies: [{ name: 'on-request', when: { dnis: '^700' }, record: false }, { name: 'record-all' }] },
      sip: {
        port: 0,
        address: '127.0.0.1',
        routes: [
          { match: '^800', to: `sip:service@127.0.0.1:${uasPort}`, workgroup: 'support' },
          { match: '^900', to: `sip:service@127.0.0.1:${tcpUasPort};transport=tcp`, workgroup: 'sales' },
          { match: '^700', to: `sip:service@127.0.0.1:${dynamicUasPort}`, workgroup: 'billing', audioPath: 'dynamic' },
          { match: '^600', to: `sip:service@127.0.0.1:${failoverUasPort}`, workgroup: 'billing', audioPath: 'always-in' },
          { match: '^500', to: `sip:agent@127.0.0.1:${transferorPort}`, workgroup: 'billing', audioPath: 'always-in' },
          { match: '^2000$', to: `sip:specialist@127.0.0.1:${targetPort}` },
          { match: '^810', to: `sip:service@127.0.0.1:${dtmfUasPort}` },
          { match: '^400', to: `sip:pbx@127.0.0.1:${holdPort}`, workgroup: 'billing' },
        ],
      },
    }, [{ name: 'test:transfers', setup: (ctx) => {
      ctx.events.on('call.transferred', (e) => {
        transfers.push({ callId: e.call.callId, to: e.to });
        callEvents.push({ name: 'transferred', callId: e.call.callId, to: e.to });
      });
      ctx.events.on('call.offered', (e) => {
        const { callId, source, from, to, direction, location } = e.call;
        offered.push({ callId, source, from, to, direction, location });
        callEvents.push({ name: 'offered', callId });
      });
      ctx.events.on('call.connected', (e) => {
        callEvents.push({ name: 'connected', callId: e.call.callId });
      });
      ctx.events.on('call.assigned', (e) => {
        callEvents.push({ name: 'assigned', callId: e.call.callId, workgroup: e.workgroup });
      });
      ctx.events.on('call.disconnected', (e) => {
        callEvents.push({ name: 'disconnected', callId: e.call.callId });
      });
      ctx.events.on('call.held', (e) => {
        callEvents.push({ name: 'held', callId: e.call.callId, leg: e.leg });
      });
      ctx.events.on('call.resumed', (e) => {
        callEvents.push({ name: 'resumed', callId: e.call.callId, leg: e.leg });
      });
    } }]);
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGKILL');
    await host?.close();
  });

  it('records what the caller’s pcap says (always-in), ffmpeg hears it, and its DTMF digit is kept', async () => {
    const { port: sipPort } = (await (await fetch(`${host.url}/api/v1/sip`)).json()) as { port: number };
    const callee = sipp(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(uasPort), '-mp', String(await freeUdpPort()), '-m', '1'], dir);
    children.push(callee.proc);
    await new Promise((r) => setTimeout(r, 300));
    const caller = sipp(['-sn', 'uac_pcap', `127.0.0.1:${sipPort}`, '-s', '800200', '-i', '127.0.0.1', '-p', String(await freeUdpPort()), '-mp', String(await freeUdpPort()), '-m', '1'], dir);
    children.push(caller.proc);
    const [callerCode, calleeCode] = await Promise.all([caller.exited, callee.exited]);
    expect(callerCode, caller.output()).toBe(0);
    expect(calleeCode, callee.output()).toBe(0);

    const { items } = (await until(async () => (await (await fetch(`${host.url}/api/v1/recordings?dnis=800200`)).json()) as { items: Recording[] }, (r) => r.items.length === 1 && r.items[0]!.status === 'stored' && r.items[0]!.uri === null, 20_000));
    const rec = items[0]!;
    expect(rec).toMatchObject({ status: 'stored' });
    // The DTMF pcap sipp plays after the speech: a '1' on the caller's leg.
    expect(rec.dtmf.map((d) => `${d.leg}:${d.digit}`)).toEqual(['caller:1']);

    const file = join(dir, 'recorded.wav');
    writeFileSync(file, Buffer.from(await (await fetch(`${host.url}/api/v1/recordings/${rec.id}/audio`)).arrayBuffer()));
    const [left] = ffmpegDecode(file, 2);
    const reference = pcapAudio(join(PCAPS, 'g711a.pcap'), dir);
    // The caller's channel holds the pcap's audio: cross-correlation after alignment.
    const { correlation } = alignedCorrelation(reference.subarray(0, 40000), left!.subarray(0, 48000), 8000);
    console.log(`SIP always-in: pcap audio vs recording, correlation ${correlation.toFixed(4)}`);
    expect(correlation).toBeGreaterThanOrEqual(0.95);
  }, 90_000);

  it('takes and places calls over TCP too: sipp over TCP on both sides, the call recorded', async () => {
    const { port: sipPort, tcp } = (await (await fetch(`${host.url}/api/v1/sip`)).json()) as { port: number; tcp: boolean };
    expect(tcp).toBe(true);
    const callee = sipp(['-sn', 'uas', '-t', 't1', '-i', '127.0.0.1', '-p', String(tcpUasPort), '-mp', String(await freeUdpPort()), '-m', '1'], dir);
    children.push(callee.proc);
    await new Promise((r) => setTimeout(r, 300));
    const caller = sipp(['-sn', 'uac', '-t', 't1', `127.0.0.1:${sipPort}`, '-s', '900100', '-i', '127.0.0.1', '-p', String(await freeTcpPort()), '-m', '1', '-d', '2000'], dir);
    children.push(caller.proc);
    const [callerCode, calleeCode] = await Promise.all([caller.exited, callee.exited]);
    expect(callerCode, caller.output()).toBe(0);
    expect(calleeCode, callee.output()).toBe(0);
    const { items } = await until(
      async () => (await (await fetch(`${host.url}/api/v1/recordings?dnis=900100`)).json()) as { items: (Recording & { workgroup: string; durationMs: number })[] },
      (r) => r.items.length === 1 && r.items[0]!.status === 'stored',
      20_000,
    );
    // Routed by the called number to the sales route, and as long as the 2 s call.
    expect(items[0]).toMatchObject({ workgroup: 'sales' });
    expect(items[0]!.durationMs).toBeGreaterThan(1500);
  }, 60_000);

  it('records a dynamic call from when the recording starts: both sides re-INVITEd to the media server and back, ffmpeg hears the pcap', async () => {
    const sipStats = async () => (await (await fetch(`${host.url}/api/v1/sip`)).json()) as { port: number; reinvites: number };
    const { port: sipPort, reinvites: reinvitesBefore } = await sipStats();
    const callee = sipp(['-sf', join(SIPP_SCENARIOS, 'callee-reinvite.xml'), '-i', '127.0.0.1', '-p', String(dynamicUasPort), '-mp', String(await freeUdpPort()), '-m', '1'], dir);
    children.push(callee.proc);
    await new Promise((r) => setTimeout(r, 300));
    const caller = sipp(['-sf', join(SIPP_SCENARIOS, 'caller-reinvite.xml'), `127.0.0.1:${sipPort}`, '-s', '700100', '-i', '127.0.0.1', '-p', String(await freeUdpPort()), '-mp', String(await freeUdpPort()), '-m', '1'], dir);
    children.push(caller.proc);
    type CallView = { callId: string; to: string; audioPath: string; mediaServerId: string | null; legs: { role: string }[] };
    const callView = async (id: string) => (await (await fetch(`${host.url}/api/v1/calls/${id}`)).json()) as CallView;
    // Answered: both parties know where to send, and they talk directly.
    const { items } = await until(
      async () => (await (await fetch(`${host.url}/api/v1/calls`)).json()) as { items: CallView[] },
      (r) => r.items.some((c) => c.to === '700100'),
      10_000,
    );
    const callId = items.find((c) => c.to === '700100')!.callId;
    const direct = await until(() => callView(callId), (c) => c.legs.length === 2, 10_000);
    expect(direct).toMatchObject({ audioPath: 'dynamic', mediaServerId: null });

    await new Promise((r) => setTimeout(r, 1500));
    const started = (await (await fetch(`${host.url}/api/v1/calls/${callId}/recordings`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ requester: 'recorder' }) })).json()) as { recordingId: string };
    expect((await callView(callId)).mediaServerId).not.toBeNull();
    await new Promise((r) => setTimeout(r, 3000));
    expect((await fetch(`${host.url}/api/v1/recordings/${started.recordingId}/stop`, { method: 'POST' })).status).toBe(200);
    // Nothing needs the media server any more: the legs go back to talking directly.
    await until(() => callView(callId), (c) => c.mediaServerId === null, 5_000);

    const [callerCode, calleeCode] = await Promise.all([caller.exited, callee.exited]);
    expect(callerCode, caller.output()).toBe(0);
    expect(calleeCode, callee.output()).toBe(0);
    // Each side re-INVITEd twice: to the media server, and back to the other party.
    expect((await sipStats()).reinvites - reinvitesBefore).toBe(4);
    await until(
      async () => (await (await fetch(`${host.url}/api/v1/recordings/${started.recordingId}`)).json()) as Recording,
      (r) => r.status === 'stored',
      20_000,
    );
    const file = join(dir, 'dynamic.wav');
    writeFileSync(file, Buffer.from(await (await fetch(`${host.url}/api/v1/recordings/${started.recordingId}/audio`)).arrayBuffer()));
    const [left] = ffmpegDecode(file, 2);
    // About 3 s recorded, of the pcap from about 1.5 s in. Past the first 300 ms (the re-INVITE's
    // round trip), the caller's channel is the pcap's audio at some offset.
    const reference = pcapAudio(join(PCAPS, 'g711a.pcap'), dir);
    const piece = left!.subarray(2400, 2400 + 16000);
    expect(piece.length).toBe(16000);
    const { lag, correlation } = alignedCorrelation(piece, reference, reference.length);
    console.log(`SIP dynamic: recording vs pcap from ${(lag / 8000).toFixed(2)} s in, correlation ${correlation.toFixed(4)}`);
    expect(correlation).toBeGreaterThanOrEqual(0.95);
  }, 90_000);

  it('re-INVITEs both sides to another media server when the one recording the call is SIGKILLed, and the recording goes on', async () => {
    const sipStats = async () => (await (await fetch(`${host.url}/api/v1/sip`)).json()) as { port: number; reinvites: number };
    const { port: sipPort, reinvites: reinvitesBefore } = await sipStats();
    const callee = sipp(['-sf', join(SIPP_SCENARIOS, 'callee-reinvite.xml'), '-i', '127.0.0.1', '-p', String(failoverUasPort), '-mp', String(await freeUdpPort()), '-m', '1'], dir);
    children.push(callee.proc);
    await new Promise((r) => setTimeout(r, 300));
    const caller = sipp(['-sf', join(SIPP_SCENARIOS, 'caller-reinvite.xml'), `127.0.0.1:${sipPort}`, '-s', '600100', '-i', '127.0.0.1', '-p', String(await freeUdpPort()), '-mp', String(await freeUdpPort()), '-m', '1'], dir);
    children.push(caller.proc);
    type CallView = { callId: string; to: string; mediaServerId: string | null; legs: { role: string }[]; recordings: { recordingId: string }[] };
    const { items } = await until(
      async () => (await (await fetch(`${host.url}/api/v1/calls`)).json()) as { items: CallView[] },
      (r) => r.items.some((c) => c.to === '600100'),
      10_000,
    );
    const callId = items.find((c) => c.to === '600100')!.callId;
    const answered = await until(async () => (await (await fetch(`${host.url}/api/v1/calls/${callId}`)).json()) as CallView, (c) => c.recordings.length === 1, 10_000);
    const recordingId = answered.recordings[0]!.recordingId;
    const victim = answered.mediaServerId!;
    await new Promise((r) => setTimeout(r, 2000));
    process.kill(host.embedded!.pidOf(victim)!, 'SIGKILL');

    const [callerCode, calleeCode] = await Promise.all([caller.exited, callee.exited]);
    expect(callerCode, caller.output()).toBe(0);
    expect(calleeCode, callee.output()).toBe(0);
    expect((await sipStats()).reinvites - reinvitesBefore).toBe(2);
    type Rec = { segments: { index: number; status: string; mediaServerId: string; durationMs: number | null }[]; gaps: { startMs: number; endMs: number }[] };
    const rec = await until(
      async () => (await (await fetch(`${host.url}/api/v1/recordings/${recordingId}`)).json()) as Rec,
      (r) => r.segments?.length === 2 && r.segments.every((seg) => seg.status === 'stored'),
      40_000,
    );
    expect(rec.segments[1]!.mediaServerId).not.toBe(victim);
    expect(rec.gaps[0]!.endMs - rec.gaps[0]!.startMs).toBeLessThanOrEqual(1000);
    // The second segment, on the replacement server, holds the pcap's audio: the caller followed the re-INVITE.
    const file = join(dir, 'failover-1.wav');
    writeFileSync(file, Buffer.from(await (await fetch(`${host.url}/api/v1/recordings/${recordingId}/audio?segment=1`)).arrayBuffer()));
    const [left] = ffmpegDecode(file, 2);
    const reference = pcapAudio(join(PCAPS, 'g711a.pcap'), dir);
    const { correlation } = alignedCorrelation(left!.subarray(2400, 2400 + 16000), reference, reference.length);
    console.log(`SIP failover: second segment vs pcap, correlation ${correlation.toFixed(4)}`);
    expect(correlation).toBeGreaterThanOrEqual(0.95);
  }, 120_000);

  it('transfers a call blind by REFER: the target is called through the routes, takes the agent’s place, and the recording goes on with its voice', async () => {
    const { port: sipPort } = (await (await fetch(`${host.url}/api/v1/sip`)).json()) as { port: number };
    const target = sipp(['-sf', join(SIPP_SCENARIOS, 'callee-pcap.xml'), '-i', '127.0.0.1', '-p', String(targetPort), '-mp', String(await freeUdpPort()), '-m', '1'], dir);
    const agent = sipp(['-sf', join(SIPP_SCENARIOS, 'transferor.xml'), '-i', '127.0.0.1', '-p', String(transferorPort), '-mp', String(await freeUdpPort()), '-m', '1', '-key', 'target', `sip:2000@127.0.0.1:${sipPort}`], dir);
    children.push(target.proc, agent.proc);
    await new Promise((r) => setTimeout(r, 300));
    const caller = sipp(['-sf', join(SIPP_SCENARIOS, 'caller-reinvite.xml'), `127.0.0.1:${sipPort}`, '-s', '500100', '-i', '127.0.0.1', '-p', String(await freeUdpPort()), '-mp', String(await freeUdpPort()), '-m', '1'], dir);
    children.push(caller.proc);
    const codes = await Promise.all([caller.exited, agent.exited, target.exited]);
    expect(codes, `${caller.output()}\n${agent.output()}\n${target.output()}`).toEqual([0, 0, 0]);

    const { items } = await until(
      async () => (await (await fetch(`${host.url}/api/v1/recordings?dnis=500100`)).json()) as { items: (Recording & { callId: string; durationMs: number })[] },
      (r) => r.items.length === 1 && r.items[0]!.status === 'stored',
      20_000,
    );
    const recording = items[0]!;
    // Handlers saw the transfer, to the URI the route gave the number 2000.
    expect(transfers).toContainEqual({ callId: recording.callId, to: `sip:specialist@127.0.0.1:${targetPort}` });
    // One recording for the whole call (about 5 s: the caller hangs up 5 s after the answer) ...
    expect(recording.durationMs).toBeGreaterThan(4500);
    const file = join(dir, 'transfer.wav');
    writeFileSync(file, Buffer.from(await (await fetch(`${host.url}/api/v1/recordings/${recording.id}/audio`)).arrayBuffer()));
    const [, right] = ffmpegDecode(file, 2);
    // ... whose other channel holds the transfer target's voice (the pcap it plays) near the end.
    const reference = pcapAudio(join(PCAPS, 'g711a.pcap'), dir);
    const piece = right!.subarray(right!.length - 20000, right!.length - 4000);
    const { correlation } = alignedCorrelation(piece, reference, reference.length);
    console.log(`SIP transfer: target's voice in the recording, correlation ${correlation.toFixed(4)}`);
    expect(correlation).toBeGreaterThanOrEqual(0.95);
  }, 90_000);

  it('raises the call events handlers see — offered to disconnected, with held, resumed and transferred by re-INVITE — with ANI, DNIS, direction and location', async () => {
    const { port: sipPort } = (await (await fetch(`${host.url}/api/v1/sip`)).json()) as { port: number };
    const pbx = sipp(['-sf', join(SIPP_SCENARIOS, 'callee-hold-transfer.xml'), '-i', '127.0.0.1', '-p', String(holdPort), '-mp', String(await freeUdpPort()), '-m', '1'], dir);
    children.push(pbx.proc);
    await new Promise((r) => setTimeout(r, 300));
    const caller = sipp(['-sn', 'uac', `127.0.0.1:${sipPort}`, '-s', '400100', '-i', '127.0.0.1', '-p', String(await freeUdpPort()), '-m', '1', '-d', '4000'], dir);
    children.push(caller.proc);
    const [callerCode, pbxCode] = await Promise.all([caller.exited, pbx.exited]);
    expect(callerCode, caller.output()).toBe(0);
    expect(pbxCode, pbx.output()).toBe(0);
    const { items } = await until(
      async () => (await (await fetch(`${host.url}/api/v1/recordings?dnis=400100`)).json()) as { items: { callId: string; status: string }[] },
      (r) => r.items.length === 1 && r.items[0]!.status === 'stored',
      20_000,
    );
    const mine = callEvents.filter((e) => e.callId === items[0]!.callId).map(({ callId: _, ...e }) => e);
    expect(mine).toEqual([
      { name: 'offered' },
      { name: 'connected' },
      { name: 'assigned', workgroup: 'billing' },
      { name: 'held', leg: 'callee' },
      { name: 'resumed', leg: 'callee' },
      { name: 'transferred', to: 'sip:2002@127.0.0.1' },
      { name: 'disconnected' },
    ]);
    expect(offered.find((o) => o.callId === items[0]!.callId)).toEqual({ callId: items[0]!.callId, source: 'sip', from: 'sipp', to: '400100', direction: 'inbound', location: 'default' });
  }, 60_000);

  it('keeps every digit of sipp’s RFC 4733 pcaps as DTMF events, in order, on the caller’s leg', async () => {
    const { port: sipPort } = (await (await fetch(`${host.url}/api/v1/sip`)).json()) as { port: number };
    const callee = sipp(['-sn', 'uas', '-i', '127.0.0.1', '-p', String(dtmfUasPort), '-mp', String(await freeUdpPort()), '-m', '1'], dir);
    children.push(callee.proc);
    await new Promise((r) => setTimeout(r, 300));
    const caller = sipp(['-sf', join(SIPP_SCENARIOS, 'caller-dtmf.xml'), `127.0.0.1:${sipPort}`, '-s', '810100', '-i', '127.0.0.1', '-p', String(await freeUdpPort()), '-mp', String(await freeUdpPort()), '-m', '1'], dir);
    children.push(caller.proc);
    const [callerCode, calleeCode] = await Promise.all([caller.exited, callee.exited]);
    expect(callerCode, caller.output()).toBe(0);
    expect(calleeCode, callee.output()).toBe(0);
    const { items } = await until(
      async () => (await (await fetch(`${host.url}/api/v1/recordings?dnis=810100`)).json()) as { items: Recording[] },
      (r) => r.items.length === 1 && r.items[0]!.status === 'stored',
      20_000,
    );
    expect(items[0]!.dtmf.map((d) => `${d.leg}:${d.digit}`)).toEqual(['caller:2', 'caller:5', 'caller:9', 'caller:*', 'caller:#', 'caller:0']);
  }, 60_000);
});
