import { describe, expect, it } from 'vitest';
import { formatQuantity, parseQuantity } from './quantity.ts';

describe('parseQuantity', () => {
  it('reads CPU in cores and memory in bytes, as the API server does', () => {
    expect(parseQuantity('100m')).toBeCloseTo(0.1);
    expect(parseQuantity('2')).toBe(2);
    expect(parseQuantity(1.5)).toBe(1.5);
    expect(parseQuantity('128Mi')).toBe(128 * 2 ** 20);
    expect(parseQuantity('1G')).toBe(1e9);
    expect(parseQuantity('2e3')).toBe(2000);
  });

  it('refuses what is not a quantity', () => {
    expect(parseQuantity('1 GB')).toBeUndefined();
    expect(parseQuantity('lots')).toBeUndefined();
    expect(parseQuantity(undefined)).toBeUndefined();
  });
});

describe('formatQuantity', () => {
  it('writes CPU below a core in millicores and memory with a binary suffix', () => {
    expect(formatQuantity('requests.cpu', 0.25)).toBe('250m');
    expect(formatQuantity('limits.cpu', 2.75)).toBe('2.75');
    expect(formatQuantity('limits.memory', 7 * 2 ** 30)).toBe('7Gi');
    expect(formatQuantity('pods', 7)).toBe('7');
  });
});
