/** The per-process coalescing of identical acquisitions (lib/auth/coalesce.ts); end to end in test/coalesce.test.ts. */
import { describe, expect, it } from 'vitest';
import { Coalescer } from '../../lib/auth/coalesce.js';

describe('Coalescer', () => {
  it('hands a failed run to every joiner, then runs anew; a finished run is no longer joined', async () => {
    const coalescer = new Coalescer<number>();
    let fail!: (error: Error) => void;
    const first = coalescer.run('k', () => new Promise<number>((_, reject) => (fail = reject)));
    const joiner = coalescer.run('k', () => Promise.resolve(2));
    expect(coalescer.has('k')).toBe(true);
    fail(new Error('identity provider down'));
    await expect(first).rejects.toThrow('identity provider down');
    await expect(joiner).rejects.toThrow('identity provider down');
    expect(coalescer.has('k')).toBe(false);
    expect(await coalescer.run('k', () => Promise.resolve(3))).toEqual({ value: 3, joined: false });
    expect(coalescer.has('k')).toBe(false);
  });
});
