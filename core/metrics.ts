import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';

/** The host's Prometheus metrics, one registry per host (tests run several hosts in a process). */
export class HostMetrics {
  readonly registry = new Registry();
  readonly callsActive = new Gauge({ name: 'capstan_calls_active', help: 'Calls in progress', registers: [this.registry] });
  readonly callsTotal = new Counter({ name: 'capstan_calls_total', help: 'Calls created', registers: [this.registry] });
  readonly recordingsStarted = new Counter({ name: 'capstan_recordings_started_total', help: 'Recordings started', labelNames: ['requester'], registers: [this.registry] });
  readonly recordingsStored = new Counter({ name: 'capstan_recordings_stored_total', help: 'Recordings stored by their requester', registers: [this.registry] });
  readonly recordingsFailed = new Counter({ name: 'capstan_recordings_failed_total', help: 'Recordings that failed', registers: [this.registry] });
  readonly mediaServersUp = new Gauge({ name: 'capstan_media_servers_up', help: 'Media servers up', registers: [this.registry] });

  constructor() {
    collectDefaultMetrics({ register: this.registry, prefix: 'capstan_host_' });
  }
}
