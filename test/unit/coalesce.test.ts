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
    expect([first.joined, joiner.joined]).toEqual([false, true]);
    await expect(first.value).rejects.toThrow('identity provider down');
    await expect(joiner.value).rejects.toThrow('identity provider down');
    expect(coalescer.has('k')).toBe(false);
    const again = coalescer.run('k', () => Promise.resolve(3));
    expect(again.joined).toBe(false);
    // Settled: the run has left the map by the time its caller resumes.
    expect(await again.value).toBe(3);
    expect(coalescer.has('k')).toBe(false);
  });

  it('tells the calls of a run whether another call got its value too', async () => {
    const coalescer = new Coalescer<number>();
    const alone = coalescer.run('a', () => Promise.resolve(1));
    await alone.value;
    const first = coalescer.run('b', () => Promise.resolve(2));
    const joiner = coalescer.run('b', () => Promise.resolve(3));
    await first.value;
    expect([alone.shared(), first.shared(), joiner.shared()]).toEqual([false, true, true]);
  });
});
