/**
 * Media Server Selection Rules: a prioritized list of locations, tried in order until one has a
 * media server that accepts sessions. Pure: the registry's servers in, a choice and its reason out.
 *
 * An entry is a location name, one of the variables below, `<Any>`, or a list of those: a
 * load-balanced group whose servers are pooled and compared as one (balancing is between
 * servers, not locations). Within the pool the accepting server with the most free CPU, then the
 * fewest resources in use, wins.
 */
import { CapstanError } from '../errors.ts';
import type { MediaServerState } from './media-server-registry.ts';
import { selectMediaServer, type Selection } from './select-media-server.ts';

/** The location of the requesting device (station or line). */
export const DEVICE_LOCATION = '@device';
/** The other locations in the call's audio path (pooled as one group). */
export const AUDIO_PATH_LOCATIONS = '@audio-path';
/** The host's (control server's) own location. */
export const HOST_LOCATION = '@host';
/** Any media server anywhere, but the excluded locations. */
export const ANY_LOCATION = '<Any>';

export type RuleEntry = string | string[];

export interface RuleSet {
  /** Tried in order; at least one entry. */
  locations: RuleEntry[];
  /** Locations `<Any>` never picks. */
  exclude: string[];
}

export interface SelectionContext {
  deviceLocation: string;
  audioPathLocations: readonly string[];
  hostLocation: string;
  /** Servers not to pick (e.g. the one that just died). */
  avoidServers?: readonly string[];
}

export interface RuleSelection extends Selection {
  /** Index of the entry that found the server. */
  entry: number;
}

function expand(entry: RuleEntry, ctx: SelectionContext, ruleSet: RuleSet, all: readonly MediaServerState[]): string[] {
  const one = (name: string): string[] => {
    if (name === DEVICE_LOCATION) return [ctx.deviceLocation];
    if (name === AUDIO_PATH_LOCATIONS) return [...ctx.audioPathLocations];
    if (name === HOST_LOCATION) return [ctx.hostLocation];
    if (name === ANY_LOCATION) return [...new Set(all.map((s) => s.location))].filter((l) => !ruleSet.exclude.includes(l));
    return [name];
  };
  return [...new Set((Array.isArray(entry) ? entry : [entry]).flatMap(one))];
}

function describe(entry: RuleEntry): string {
  return Array.isArray(entry) ? `[${entry.join(', ')}]` : entry;
}

/**
 * Applies a rule set. Throws CAPSTAN_ERR_NO_MEDIA_SERVER with every entry's outcome when no entry
 * yields a server.
 */
export function selectByRules(ruleSet: RuleSet, ctx: SelectionContext, servers: readonly MediaServerState[]): RuleSelection {
  const trail: string[] = [];
  const avoid = ctx.avoidServers ?? [];
  for (const [i, entry] of ruleSet.locations.entries()) {
    const locations = expand(entry, ctx, ruleSet, servers);
    const pool = servers.filter((s) => locations.includes(s.location));
    if (pool.length === 0) {
      trail.push(`${describe(entry)} (${locations.join(', ') || 'no location'}): no media server`);
      continue;
    }
    try {
      const chosen = selectMediaServer(pool, avoid);
      return { ...chosen, entry: i, reason: `rule ${i + 1} ${describe(entry)} → ${chosen.reason}` };
    } catch (e) {
      trail.push(`${describe(entry)} (${locations.join(', ')}): ${(e as CapstanError).message}`);
    }
  }
  throw new CapstanError('CAPSTAN_ERR_NO_MEDIA_SERVER', `No media server found by the selection rules: ${trail.join('; ')}`, { details: { tried: trail } });
}
