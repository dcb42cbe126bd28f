import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { KNOWN_CODES } from '../src/classify/classify.js';

describe('docs/faults.md', () => {
  it('lists every code classify() looks up', () => {
    const guide = readFileSync(new URL('../../../docs/faults.md', import.meta.url), 'utf8');
    expect(KNOWN_CODES.length).toBeGreaterThan(80);
    const missing = KNOWN_CODES.filter((code) => !guide.includes(`\`${code}\``));
    expect(missing).toEqual([]);
  });
});
