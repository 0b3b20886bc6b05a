const policies = (list: unknown[]) => ({ config: { policies: list } });

capstanTest('without policies it records nothing', async (t) => {
  const r = await t.emit('call.connected', { call: t.call() });
  t.expect(r.actions).toHaveLength(0);
});

capstanTest('records a matching call as the Recorder with the policy’s actions', policies([
  { name: 'sales', when: { workgroup: ['sales'], direction: ['inbound'] }, actions: { record: true, compression: 'opus', encryption: true, retentionDays: 90, tags: ['s'] } },
]), async (t) => {
  const r = await t.emit('call.connected', { call: t.call({ workgroup: 'sales' }) });
  t.expect(r.actions).toMatchObject([{ op: 'start', options: { requester: 'recorder', compression: 'opus', encryption: true, retentionDays: 90, tags: ['policy:sales', 's'], deliverTo: null } }]);
  const other = await t.emit('call.connected', { call: t.call({ workgroup: 'support' }) });
  t.expect(other.actions).toHaveLength(0);
});

capstanTest('matches agent, role, station and line', policies([
  { name: 'p', when: { agent: ['alice'], role: ['supervisor'], station: ['st-1'], line: ['l-9'] }, actions: { record: true } },
]), async (t) => {
  const attributes = { role: 'supervisor', station: 'st-1', line: 'l-9' };
  t.expect((await t.emit('call.connected', { call: t.call({ agent: 'alice', attributes }) })).actions).toHaveLength(1);
  t.expect((await t.emit('call.connected', { call: t.call({ agent: 'alice', attributes: { ...attributes, line: 'l-1' } }) })).actions).toHaveLength(0);
  t.expect((await t.emit('call.connected', { call: t.call({ agent: 'bob', attributes }) })).actions).toHaveLength(0);
});

capstanTest('matches ANI, DNIS and attributes by regular expression', policies([
  { name: 'p', when: { ani: '^\\+33', dnis: '^800', attributes: { campaign: '^spring-' } }, actions: { record: true } },
]), async (t) => {
  const ok = t.call({ from: '+33612345678', to: '8001234', attributes: { campaign: 'spring-2025' } });
  t.expect((await t.emit('call.connected', { call: ok })).actions).toHaveLength(1);
  t.expect((await t.emit('call.connected', { call: { ...ok, callId: 'x2', from: '+1555' } })).actions).toHaveLength(0);
  t.expect((await t.emit('call.connected', { call: { ...ok, callId: 'x3', attributes: { campaign: 'fall' } } })).actions).toHaveLength(0);
});

capstanTest('matches time of day and weekday in the policy’s time zone, across midnight too', policies([
  { name: 'office', when: { timeOfDay: { from: '08:00', to: '18:00', days: ['mon', 'tue', 'wed', 'thu', 'fri'], timeZone: 'Europe/Paris' } }, actions: { record: true, tags: ['office'] } },
  { name: 'night', when: { timeOfDay: { from: '22:00', to: '06:00' } }, actions: { record: true, tags: ['night'] } },
]), async (t) => {
  // 2025-01-06 is a Monday; 07:30 UTC is 08:30 in Paris.
  const office = await t.emit('call.connected', { call: t.call({ startedAt: '2025-01-06T07:30:00Z' }) });
  t.expect(office.actions).toMatchObject([{ options: { tags: ['policy:office', 'office'] } }]);
  const saturday = await t.emit('call.connected', { call: t.call({ startedAt: '2025-01-11T10:00:00Z' }) });
  t.expect(saturday.actions).toHaveLength(0);
  const night = await t.emit('call.connected', { call: t.call({ startedAt: '2025-01-07T02:00:00Z' }) });
  t.expect(night.actions).toMatchObject([{ options: { tags: ['policy:night', 'night'] } }]);
});

capstanTest('samples a stable percentage of calls', policies([{ name: 'sample', when: { percentage: 25 }, actions: { record: true } }]), async (t) => {
  let recorded = 0;
  for (let i = 0; i < 200; i++) recorded += (await t.emit('call.connected', { call: t.call({ callId: `sample-${i}` }) })).actions.length;
  t.expect(recorded).toBeGreaterThan(30);
  t.expect(recorded).toBeLessThan(70);
  const again = await t.emit('call.connected', { call: t.call({ callId: 'sample-0' }) });
  const first = t.actions().some((a) => a.op === 'start' && a.callId === 'sample-0');
  t.expect(again.actions.length === 1).toBe(first);
});

capstanTest('later matches add tags and e-mail addresses; stopProcessing ends the evaluation', policies([
  { name: 'all', actions: { record: true, tags: ['a'], email: 'qa@example.com' } },
  { name: 'vip', when: { ani: '^\\+1999' }, actions: { tags: ['vip'], email: ['boss@example.com'], stopProcessing: true } },
  { name: 'never', actions: { record: false } },
]), async (t) => {
  const vip = await t.emit('call.connected', { call: t.call({ from: '+19995550000' }) });
  t.expect(vip.actions).toMatchObject([{ options: { tags: ['policy:all', 'policy:vip', 'a', 'vip'], deliverTo: 'qa@example.com, boss@example.com' } }]);
  const plain = await t.emit('call.connected', { call: t.call() });
  t.expect(plain.actions).toHaveLength(0);
});

capstanTest('records as recorder-rcs when configured', { config: { requester: 'recorder-rcs', policies: [{ name: 'all', actions: { record: true } }] } }, async (t) => {
  const r = await t.emit('call.connected', { call: t.call() });
  t.expect(r.actions).toMatchObject([{ options: { requester: 'recorder-rcs' } }]);
});
