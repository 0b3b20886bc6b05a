/**
 * Services plugins offer each other, by key. The map of keys to types is the contract:
 * a plugin that provides `recordingStore` must implement `RecordingStore`.
 */
import { CapstanError } from './errors.ts';
import type { RecordingStore } from './recorder/recording-store.ts';
import type { MailDelivery } from './delivery/mail-delivery.ts';
import type { DeliveryStore } from './delivery/delivery-store.ts';
import type { AuditLog } from './recorder/audit-log.ts';
import type { TelephonyServices } from './telephony/telephony-services.ts';

export interface Services {
  recordingStore: RecordingStore;
  deliveryStore: DeliveryStore;
  auditLog: AuditLog;
  mail: MailDelivery;
  telephony: TelephonyServices;
}

export class ServiceRegistry {
  readonly #services = new Map<keyof Services, unknown>();

  provide<K extends keyof Services>(key: K, service: Services[K]): void {
    if (this.#services.has(key)) {
      throw new CapstanError('CAPSTAN_ERR_PLUGIN', `Service "${key}" is provided twice`, { details: { service: key } });
    }
    this.#services.set(key, service);
  }

  get<K extends keyof Services>(key: K): Services[K] {
    const service = this.#services.get(key);
    if (service === undefined) {
      throw new CapstanError('CAPSTAN_ERR_PLUGIN', `No plugin provides the service "${key}"`, { details: { service: key } });
    }
    return service as Services[K];
  }

  has(key: keyof Services): boolean {
    return this.#services.has(key);
  }
}
