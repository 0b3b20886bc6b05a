const config = { workgroups: { sales: { email: 'sales-qa@example.com', tags: ['qa'] }, support: { email: 'support@example.com', channels: 1 } } };

capstanTest('without configuration it records nothing', async (t) => {
  const r = await t.emit('call.assigned', { call: t.call({ workgroup: 'sales' }), workgroup: 'sales', agent: null });
  t.expect(r.actions).toHaveLength(0);
});

capstanTest('records a call assigned to a configured workgroup and mails it to the workgroup', { config }, async (t) => {
  const call = t.call({ workgroup: 'sales' });
  const r = await t.emit('call.assigned', { call, workgroup: 'sales', agent: 'alice' });
  t.expect(r.actions).toMatchObject([
    { op: 'start', callId: call.callId, options: { requester: 'workgroup', deliverTo: 'sales-qa@example.com', channels: 2, tags: ['workgroup:sales', 'qa'] } },
  ]);
  t.expect(r.cpuMs).toBeLessThan(r.budgetMs);
});

capstanTest('uses each workgroup’s own settings', { config }, async (t) => {
  const r = await t.emit('call.assigned', { call: t.call(), workgroup: 'support', agent: null });
  t.expect(r.actions).toMatchObject([{ op: 'start', options: { deliverTo: 'support@example.com', channels: 1 } }]);
});

capstanTest('ignores other workgroups and calls with none', { config }, async (t) => {
  await t.emit('call.assigned', { call: t.call(), workgroup: 'billing', agent: null });
  await t.emit('call.assigned', { call: t.call(), workgroup: null, agent: 'bob' });
  t.expect(t.actions()).toHaveLength(0);
});

capstanTest('records a call once however often it is assigned to the same workgroup', { config }, async (t) => {
  const call = t.call();
  await t.emit('call.assigned', { call, workgroup: 'sales', agent: 'alice' });
  await t.emit('call.assigned', { call, workgroup: 'sales', agent: 'bob' });
  t.expect(t.actions()).toHaveLength(1);
});

capstanTest('tries again on the next assignment when starting failed', { config }, async (t) => {
  const call = t.call();
  t.failNext('start');
  const first = await t.emit('call.assigned', { call, workgroup: 'sales', agent: null });
  t.expect(first.error).toBeNull();
  await t.emit('call.assigned', { call, workgroup: 'sales', agent: null });
  t.expect(t.actions()).toHaveLength(2);
});
