import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../core/console/password.ts';
import type { Host } from '../../core/host.ts';
import { readPcm8k } from '../../media/wav/wav-reader.ts';
import { placeSimulatedCall } from '../../plugins/call-source-simulator/simulated-call.ts';
import { startTestHost } from '../helpers/host.ts';
import { SmtpSink } from '../helpers/smtp-sink.ts';
import { until } from '../helpers/until.ts';

const caller = readPcm8k(readFileSync(new URL('../../examples/audio/caller.wav', import.meta.url))).channels[0]!;
const TOKEN = 'console-test-admin-token-0123456789';
const auth = { authorization: `Bearer ${TOKEN}` };
/** `CAPSTAN_SCREENSHOTS=docs/screenshots npx vitest run test/e2e/console.test.ts` refreshes the docs' pictures. */
const SHOTS = process.env.CAPSTAN_SCREENSHOTS;

/** Plays the console's player to its end (at 4× speed) and says how it ended. */
function playToEnd(page: Page): Promise<{ ended: boolean; currentTime: number; duration: number }> {
  return page.evaluate(async () => {
    // Runs in the page (no DOM types in this Node project): the media element's few members used.
    type Media = { readyState: number; playbackRate: number; ended: boolean; currentTime: number; duration: number; play(): Promise<void>; addEventListener(t: string, f: (v: unknown) => void, o?: object): void };
    const player = (globalThis as unknown as { document: { querySelector(s: string): Media } }).document.querySelector('#player');
    if (player.readyState < 1) await new Promise((r) => player.addEventListener('loadedmetadata', r, { once: true }));
    player.playbackRate = 4;
    const ended = new Promise((r) => player.addEventListener('ended', r, { once: true }));
    await player.play();
    await ended;
    return { ended: player.ended, currentTime: player.currentTime, duration: player.duration };
  });
}

describe('the web console in a real browser', () => {
  let host: Host;
  let smtp: SmtpSink;
  let browser: Browser;
  let aliceRecording = '';

  beforeAll(async () => {
    smtp = new SmtpSink();
    const port = await smtp.listen();
    const users = await Promise.all(
      [
        { name: 'alice', role: 'agent' as const, agent: 'alice' },
        { name: 'bob', role: 'agent' as const, agent: 'bob' },
        { name: 'sue', role: 'supervisor' as const },
      ].map(async (u) => ({ ...u, passwordHash: await hashPassword(`${u.name}-secret-pass`) })),
    );
    host = await startTestHost({
      api: { tokens: [{ name: 'ops', token: TOKEN, role: 'admin' }] },
      console: { users, securePauseMaxSeconds: 90 },
      mail: { smtp: { host: '127.0.0.1', port }, agents: { alice: 'alice@example.com', bob: 'bob@example.com' } },
      // Sales calls are recorded by the Recorder as Ogg Opus; nothing else is recorded by policy.
      recorder: { policies: [{ name: 'sales-opus', when: { workgroup: ['sales'] }, compression: 'opus' }, { name: 'rest', record: false }] },
    });
    browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox', '--autoplay-policy=no-user-gesture-required'] });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await host?.close();
    await smtp?.close();
  });

  async function signIn(name: string): Promise<Page> {
    const page = await (await browser.newContext({ viewport: { width: 1100, height: 900 } })).newPage();
    await page.goto(`${host.url}/console`);
    await page.fill('#sign-in input[name=name]', name);
    await page.fill('#sign-in input[name=password]', `${name}-secret-pass`);
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('#who:has-text("' + name + '")');
    expect(await page.isHidden('#sign-in')).toBe(true);
    return page;
  }

  it('lets an agent record a live call, secure-pause and stop it; mails it to them; a supervisor finds it and plays it to its end', async () => {
    const page = await signIn('alice');
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'agent-no-call.png') });
    const call = placeSimulatedCall({ hostUrl: host.url, token: TOKEN, callerAudio: caller.subarray(0, 56000), durationMs: 7000, agent: 'alice', workgroup: 'support', from: '5550101', to: '800200' });

    // The call appears without reloading the page (server-sent events).
    await page.waitForSelector('#calls tbody tr button[data-action=record]', { timeout: 15_000 });
    await page.click('#calls tbody tr button[data-action=record]');
    await page.waitForSelector('#calls tbody tr button[data-action=secure-pause]');
    await page.waitForTimeout(1200);
    await page.click('#calls tbody tr button[data-action=secure-pause]');
    // The countdown runs from the administrator's maximum (90 s).
    const countdown = await page.waitForSelector('.countdown');
    await until(async () => countdown.textContent(), (t) => /^1:(29|30) left$/.test(t ?? ''), 5000);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'agent-secure-pause.png') });
    await page.waitForTimeout(1000);
    await page.click('#calls tbody tr button[data-action=resume]');
    await page.waitForSelector('#calls tbody tr button[data-action=pause]');
    await page.waitForTimeout(1000);
    await page.click('#calls tbody tr button[data-action=stop]');
    await page.waitForSelector('#calls tbody tr button[data-action=record]');
    const placed = await call;
    await page.waitForSelector('#no-calls:not([hidden])', { timeout: 10_000 });

    // Mailed to alice: the attachment is the stored recording, byte for byte.
    const [mail] = await smtp.waitFor(1);
    expect(mail!.to).toMatchObject({ text: 'alice@example.com' });
    const { items } = (await (await fetch(`${host.url}/api/v1/recordings?callId=${placed.callId}`, { headers: auth })).json()) as { items: { id: string; requester: string; status: string }[] };
    aliceRecording = items[0]!.id;
    const stored = await until(async () => (await (await fetch(`${host.url}/api/v1/recordings/${aliceRecording}`, { headers: auth })).json()) as { status: string; uri: string | null; pauses: unknown[] }, (r) => r.status === 'stored' && r.uri === null, 15_000);
    expect(stored.pauses).toHaveLength(1);
    const audio = Buffer.from(await (await fetch(`${host.url}/api/v1/recordings/${aliceRecording}/audio`, { headers: auth })).arrayBuffer());
    expect(Buffer.from(mail!.attachments[0]!.content).equals(audio)).toBe(true);

    // The supervisor finds it by agent and plays it in the browser, to its end.
    const sup = await signIn('sue');
    await sup.fill('#search input[name=agent]', 'alice');
    await sup.click('#search button[type=submit]');
    await sup.click(`#results tbody tr[data-recording-id="${aliceRecording}"]`);
    await sup.waitForSelector('#waveform[data-drawn=true]', { timeout: 15_000 });
    expect(await sup.textContent('#legend')).toContain('1 pause');
    expect(await sup.locator('#timeline .pause').count()).toBe(1);
    if (SHOTS) await sup.screenshot({ path: join(SHOTS, 'supervisor-recording.png'), fullPage: true });
    const played = await playToEnd(sup);
    expect(played.ended).toBe(true);
    expect(played.duration).toBeGreaterThan(2);
    expect(played.currentTime).toBeCloseTo(played.duration, 1);

    // The supervisor's page also shows the media servers and the handlers.
    expect(await sup.locator('#media-servers tbody tr').count()).toBeGreaterThan(0);
    expect(await sup.textContent('#media-servers tbody')).toContain('up');
    // Every playback is audited, with who played it.
    const audit = (await (await fetch(`${host.url}/api/v1/audit?recordingId=${aliceRecording}`, { headers: auth })).json()) as { items: { actor: string; action: string }[] };
    expect(audit.items.some((e) => e.actor === 'sue' && e.action === 'playback')).toBe(true);
  }, 90_000);

  it('plays an Ogg Opus recording in the browser too, with its waveform', async () => {
    const placed = await placeSimulatedCall({ hostUrl: host.url, token: TOKEN, callerAudio: caller.subarray(0, 24000), durationMs: 3000, agent: 'carol', workgroup: 'sales' });
    const id = await until(
      async () => ((await (await fetch(`${host.url}/api/v1/recordings?callId=${placed.callId}`, { headers: auth })).json()) as { items: { id: string; status: string; mime: string }[] }).items,
      (items) => items.length === 1 && items[0]!.status === 'stored',
      15_000,
    ).then((items) => {
      expect(items[0]!.mime).toBe('audio/opus');
      return items[0]!.id;
    });
    const sup = await signIn('sue');
    await sup.fill('#search input[name=workgroup]', 'sales');
    await sup.click('#search button[type=submit]');
    await sup.click(`#results tbody tr[data-recording-id="${id}"]`);
    await sup.waitForSelector('#waveform[data-drawn=true]', { timeout: 15_000 });
    const played = await playToEnd(sup);
    expect(played.ended).toBe(true);
    expect(played.duration).toBeGreaterThan(2);
  }, 60_000);

  it('does not let an agent open another agent’s recording, in the page or through the API', async () => {
    expect(aliceRecording).not.toBe('');
    const page = await signIn('bob');
    // Bob's console has no recordings view, and his session cannot fetch Alice's recording.
    expect(await page.isHidden('#supervisor')).toBe(true);
    const answers = await page.evaluate(async (id) => {
      const meta = await fetch(`/api/v1/recordings/${id}`);
      const audio = await fetch(`/api/v1/recordings/${id}/audio`);
      const search = (await (await fetch('/api/v1/recordings?agent=alice')).json()) as { items: unknown[] };
      return { meta: meta.status, audio: audio.status, found: search.items.length };
    }, aliceRecording);
    expect(answers).toEqual({ meta: 403, audio: 403, found: 0 });
  }, 30_000);

  it('opens nothing without signing in, and refuses a wrong password', async () => {
    expect((await fetch(`${host.url}/console/events`)).status).toBe(401);
    expect((await fetch(`${host.url}/api/v1/recordings`)).status).toBe(401);
    expect((await fetch(`${host.url}/api/v1/me`)).status).toBe(401);
    const page = await (await browser.newContext()).newPage();
    await page.goto(`${host.url}/console`);
    await page.fill('#sign-in input[name=name]', 'alice');
    await page.fill('#sign-in input[name=password]', 'not-her-password');
    await page.click('#sign-in button[type=submit]');
    await page.waitForSelector('#sign-in-error:has-text("Wrong name or password")');
    expect(await page.isHidden('#agent')).toBe(true);
    if (SHOTS) await page.screenshot({ path: join(SHOTS, 'sign-in.png') });
  }, 30_000);
});
