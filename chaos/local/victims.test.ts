import { formatLabelSelector } from '../litmus/experiments.ts';
import { describe, expect, it } from 'vitest';
import type { ExperimentRecord } from '../types.ts';
import { mergeRecords, notStarted, pickVictims } from './victims.ts';

/** A seeded PRNG (mulberry32), so "random" picks are the same on every run. */
function seeded(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

const part = (overrides: Partial<ExperimentRecord>): ExperimentRecord => ({ name: 'hog', experiment: 'pod-cpu-hog', start: 1_000, end: 2_000, actions: [], tookEffect: true, ...overrides });

describe('pickVictims', () => {
  it('takes floor(PODS_AFFECTED_PERC × candidates / 100), at least one, at most all, as Litmus does', () => {
    const three = ['a', 'b', 'c'];
    expect(pickVictims(three, 0)).toHaveLength(1);
    expect(pickVictims(three, 34)).toHaveLength(1);
    expect(pickVictims(three, 67)).toHaveLength(2);
    expect(pickVictims(three, 100)).toHaveLength(3);
    expect(pickVictims(three, 100).sort()).toEqual(three);
    // floor(50 × 3 / 100) = 1, floor(50 × 4 / 100) = 2.
    expect(pickVictims(three, 50)).toHaveLength(1);
    expect(pickVictims(['a', 'b', 'c', 'd'], 50)).toHaveLength(2);
    expect(pickVictims(['only'], 10)).toEqual(['only']);
  });

  it('returns nothing when nothing matched, whatever the percentage', () => {
    expect(pickVictims([], 0)).toEqual([]);
    expect(pickVictims([], 100)).toEqual([]);
  });

  it('picks distinct candidates and never mutates the input', () => {
    const pods = ['a', 'b', 'c', 'd', 'e'];
    const frozen = Object.freeze([...pods]);
    const picked = pickVictims(frozen, 60, seeded(7));
    expect(picked).toHaveLength(3);
    expect(new Set(picked).size).toBe(3);
    for (const pod of picked) expect(pods).toContain(pod);
    expect(frozen).toEqual(pods);
  });

  it('is reproducible with a seeded random source and depends on it', () => {
    const pods = Array.from({ length: 10 }, (_, i) => `pod-${i}`);
    const first = pickVictims(pods, 30, seeded(42));
    expect(pickVictims(pods, 30, seeded(42))).toEqual(first);
    // Different seeds spread over the candidates: a fixed pick would mean no randomness at all.
    const chosen = new Set(Array.from({ length: 50 }, (_, seed) => pickVictims(pods, 0, seeded(seed))[0]));
    expect(chosen.size).toBeGreaterThanOrEqual(5);
  });

  it('with random() = 0 the Fisher–Yates shuffle rotates the first candidate to the end', () => {
    // j is always 0: swaps (3,0), (2,0), (1,0) on [a,b,c,d] give [b,c,d,a].
    expect(pickVictims(['a', 'b', 'c', 'd'], 100, () => 0)).toEqual(['b', 'c', 'd', 'a']);
  });
});

describe('mergeRecords', () => {
  it('spans every part and takes effect only when every part did', () => {
    const merged = mergeRecords(
      'hog',
      'pod-cpu-hog',
      [
        part({ start: 1_500, end: 4_000, actions: [{ at: 1_500, action: 'cpu-hog', target: 'a', tookEffect: true }] }),
        part({ start: 1_200, end: 3_000, actions: [{ at: 1_200, action: 'cpu-hog', target: 'b', tookEffect: true }] }),
      ],
      1_300,
    );
    expect(merged).toEqual({
      name: 'hog',
      experiment: 'pod-cpu-hog',
      start: 1_200,
      end: 4_000,
      actions: [
        { at: 1_500, action: 'cpu-hog', target: 'a', tookEffect: true },
        { at: 1_200, action: 'cpu-hog', target: 'b', tookEffect: true },
      ],
      tookEffect: true,
    });
    expect(merged.reason).toBeUndefined();
  });

  it('starts no later than the dispatcher started, even when every part started later', () => {
    const merged = mergeRecords('hog', 'pod-cpu-hog', [part({ start: 5_000, end: 6_000 })], 4_000);
    expect([merged.start, merged.end]).toEqual([4_000, 6_000]);
  });

  it("joins the reasons of the parts that failed, and says 'not proven' for a part without one", () => {
    const merged = mergeRecords(
      'pause',
      'pod-pause',
      [part({ tookEffect: true }), part({ tookEffect: false, reason: 'postgres (pid 7): freezer never FROZEN' }), part({ tookEffect: false })],
      1_000,
    );
    expect(merged.tookEffect).toBe(false);
    expect(merged.reason).toBe('postgres (pid 7): freezer never FROZEN; not proven');
  });

  it('is not proven with no parts, and says that no target matched', () => {
    const merged = mergeRecords('hog', 'pod-cpu-hog', [], 1_000);
    expect(merged).toMatchObject({ start: 1_000, end: 1_000, actions: [], tookEffect: false, reason: 'no target matched' });
  });
});

describe('notStarted', () => {
  it('records an empty, unproven window now with the reason', () => {
    const before = Date.now();
    const record = notStarted('drain', 'node-drain', 'there are no nodes');
    expect(record).toMatchObject({ name: 'drain', experiment: 'node-drain', actions: [], tookEffect: false, reason: 'there are no nodes' });
    expect(record.start).toBe(record.end);
    expect(record.start).toBeGreaterThanOrEqual(before);
    expect(record.start).toBeLessThanOrEqual(Date.now());
  });
});

describe('formatLabelSelector', () => {
  it('writes a selector as kubectl does', () => {
    expect(formatLabelSelector({ app: 'hastecrm-api', tier: 'backend' })).toBe('app=hastecrm-api,tier=backend');
    expect(formatLabelSelector({})).toBe('');
  });
});
