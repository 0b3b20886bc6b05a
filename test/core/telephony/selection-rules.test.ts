import { describe, expect, it } from 'vitest';
import { ANY_LOCATION, AUDIO_PATH_LOCATIONS, DEVICE_LOCATION, HOST_LOCATION, selectByRules, type RuleSet } from '../../../core/telephony/selection-rules.ts';
import type { MediaServerState } from '../../../core/telephony/media-server-registry.ts';
import { parseConfig } from '../../../core/config/load-config.ts';
import type { CapstanError } from '../../../core/errors.ts';

function ms(id: string, location: string, over: Partial<MediaServerState> = {}): MediaServerState {
  return {
    id, location, controlUrl: `http://127.0.0.1/${id}`, version: '0', pid: null, embedded: false, state: 'up', downReason: null,
    cpu: 0.2, activeResources: 0, acceptsSessions: true, freeDiskBytes: 1e9, recovered: [], registeredAt: '', lastReportAt: '', ...over,
  };
}

const standard: RuleSet = { locations: [DEVICE_LOCATION, AUDIO_PATH_LOCATIONS, HOST_LOCATION, ANY_LOCATION], exclude: [] };
const ctx = { deviceLocation: 'paris', audioPathLocations: ['london'], hostLocation: 'hq' };

describe('Media Server Selection Rules', () => {
  it('prefer the requesting device’s location', () => {
    const s = selectByRules(standard, ctx, [ms('hq-1', 'hq', { cpu: 0 }), ms('paris-1', 'paris', { cpu: 0.9 })]);
    expect(s.server.id).toBe('paris-1');
    expect(s.entry).toBe(0);
    expect(s.reason).toContain('@device');
  });

  it('fall through to the audio path, then the host’s location, then anywhere', () => {
    expect(selectByRules(standard, ctx, [ms('hq-1', 'hq'), ms('lon-1', 'london')]).server.id).toBe('lon-1');
    expect(selectByRules(standard, ctx, [ms('hq-1', 'hq'), ms('ny-1', 'newyork', { cpu: 0 })]).server.id).toBe('hq-1');
    const any = selectByRules(standard, ctx, [ms('ny-1', 'newyork')]);
    expect(any.server.id).toBe('ny-1');
    expect(any.entry).toBe(3);
  });

  it('pass over a location whose servers are down or busy', () => {
    const s = selectByRules(standard, ctx, [ms('paris-1', 'paris', { state: 'down' }), ms('paris-2', 'paris', { acceptsSessions: false }), ms('lon-1', 'london')]);
    expect(s.server.id).toBe('lon-1');
  });

  it('never pick an excluded location through <Any>', () => {
    const rules: RuleSet = { locations: [ANY_LOCATION], exclude: ['lab'] };
    expect(selectByRules(rules, ctx, [ms('lab-1', 'lab', { cpu: 0 }), ms('ny-1', 'newyork', { cpu: 0.8 })]).server.id).toBe('ny-1');
    expect(() => selectByRules(rules, ctx, [ms('lab-1', 'lab')])).toThrow(/No media server/);
  });

  it('balance a group of equal-priority locations between servers, not locations', () => {
    const rules: RuleSet = { locations: [['east', 'west']], exclude: [] };
    const servers = [ms('e-1', 'east', { cpu: 0.5 }), ms('e-2', 'east', { cpu: 0.4 }), ms('w-1', 'west', { cpu: 0.1 })];
    expect(selectByRules(rules, ctx, servers).server.id).toBe('w-1');
    servers[2]!.cpu = 0.6;
    expect(selectByRules(rules, ctx, servers).server.id).toBe('e-2');
  });

  it('choose within a location by free CPU, then by fewest resources', () => {
    const rules: RuleSet = { locations: ['paris'], exclude: [] };
    expect(selectByRules(rules, ctx, [ms('a', 'paris', { cpu: 0.3 }), ms('b', 'paris', { cpu: 0.1 })]).server.id).toBe('b');
    expect(selectByRules(rules, ctx, [ms('a', 'paris', { activeResources: 9 }), ms('b', 'paris', { activeResources: 1 })]).server.id).toBe('b');
  });

  it('avoid servers it is told to avoid (the one that just died)', () => {
    const s = selectByRules(standard, { ...ctx, avoidServers: ['paris-1'] }, [ms('paris-1', 'paris', { cpu: 0 }), ms('paris-2', 'paris', { cpu: 0.7 })]);
    expect(s.server.id).toBe('paris-2');
  });

  it('refuse with CAPSTAN_ERR_NO_MEDIA_SERVER saying what each rule found', () => {
    try {
      selectByRules({ locations: ['paris', HOST_LOCATION], exclude: [] }, ctx, [ms('p', 'paris', { state: 'down' })]);
      expect.fail('should throw');
    } catch (e) {
      expect((e as CapstanError).code).toBe('CAPSTAN_ERR_NO_MEDIA_SERVER');
      expect((e as CapstanError).message).toContain('paris (paris): No media server accepts sessions (p: down)');
      expect((e as CapstanError).message).toContain('@host (hq): no media server');
    }
    expect(() => selectByRules(standard, ctx, [])).toThrow(/No media server found/);
  });
});

describe('selection configuration', () => {
  it('refuses an empty rule set, an unknown default and an unknown rule set for a location', () => {
    expect(() => parseConfig({ selection: { ruleSets: { default: { locations: [] } } } })).toThrow(/an empty rule set is not allowed/);
    expect(() => parseConfig({ selection: { default: 'eu' } })).toThrow(/"selection.default": no rule set named "eu"/);
    expect(() => parseConfig({ selection: { byLocation: { paris: 'nope' } } })).toThrow(/"selection.byLocation.paris"/);
  });

  it('accepts named rule sets with groups and exclusions', () => {
    const c = parseConfig({ selection: { default: 'eu', ruleSets: { eu: { locations: ['@device', ['paris', 'london'], '<Any>'], exclude: ['lab'] } } } });
    expect(c.selection.ruleSets.eu!.locations[1]).toEqual(['paris', 'london']);
  });
});
