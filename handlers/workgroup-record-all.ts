/**
 * Workgroup record-all: every call assigned to a configured workgroup is recorded for that
 * workgroup (requester `workgroup`) and mailed to the workgroup's address when it is finished.
 *
 * Does nothing unless configured, so a default install (where the Recorder's built-in policy
 * already records every call) records each call once. Configuration, `handlers.config`:
 *
 *   "workgroup-record-all": {
 *     "workgroups": {
 *       "sales":   { "email": "sales-qa@example.com" },
 *       "support": { "email": "support-lead@example.com", "channels": 1, "tags": ["qa"] }
 *     }
 *   }
 *
 * Per workgroup: `email` (required), `channels` (1 or 2, default 2), `mime` (default the media
 * server's), `tags` (added to `workgroup:<name>`).
 */
interface WorkgroupSettings {
  email: string;
  channels?: 1 | 2;
  mime?: string;
  tags?: string[];
}

const workgroups = (capstan.config.workgroups ?? {}) as { [name: string]: WorkgroupSettings };
for (const [name, settings] of Object.entries(workgroups)) {
  // Refuse a broken configuration at load: the previous version keeps running and the error says why.
  if (typeof settings?.email !== 'string' || !settings.email.includes('@')) {
    throw new Error(`workgroup "${name}" needs an "email" address to mail its recordings to`);
  }
}

/** `callId workgroup` pairs already recorded, so a repeated assignment does not record twice. */
const recorded = new Set<string>();

if (Object.keys(workgroups).length > 0) {
  capstan.on('call.assigned', async ({ call, workgroup }) => {
    if (workgroup === null || !Object.hasOwn(workgroups, workgroup)) return;
    const key = `${call.callId} ${workgroup}`;
    if (recorded.has(key)) return;
    recorded.add(key);
    const settings = workgroups[workgroup]!;
    try {
      const recording = await capstan.record.start(call.callId, {
        requester: 'workgroup',
        deliverTo: settings.email,
        channels: settings.channels ?? 2,
        ...(settings.mime ? { mime: settings.mime } : {}),
        tags: [`workgroup:${workgroup}`, ...(settings.tags ?? [])],
      });
      capstan.log.info('recording for workgroup', { callId: call.callId, workgroup, recordingId: recording.recordingId });
    } catch {
      // Already logged by the host with its code; let a later assignment try again.
      recorded.delete(key);
    }
  });

  capstan.on('call.disconnected', ({ call }) => {
    for (const key of recorded) if (key.startsWith(`${call.callId} `)) recorded.delete(key);
  });
}
