import { describe, expect, it } from 'vitest';
import { abortable } from '../../lib/abort.js';

/** Collects the process's unhandled rejections while `run` runs and until its late rejections have been reported. */
async function unhandledDuring(run: () => Promise<void>): Promise<unknown[]> {
  const unhandled: unknown[] = [];
  const collect = (reason: unknown) => unhandled.push(reason);
  process.on('unhandledRejection', collect);
  try {
    await run();
    // Node reports an unhandled rejection once the microtasks have drained.
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
  } finally {
    process.off('unhandledRejection', collect);
  }
  return unhandled;
}

function pending(): { work: Promise<never>; fail: (error: Error) => void } {
  let fail!: (error: Error) => void;
  const work = new Promise<never>((_, reject) => {
    fail = reject;
  });
  return { work, fail };
}

describe('abortable', () => {
  it('rejects with aborted at once when the signal had fired, and the work failing later is not left unhandled', async () => {
    const unhandled = await unhandledDuring(async () => {
      const controller = new AbortController();
      controller.abort();
      const { work, fail } = pending();
      await expect(abortable(work, controller.signal)).rejects.toMatchObject({ code: 'aborted' });
      fail(new Error('the redemption failed after the caller left'));
    });
    expect(unhandled).toEqual([]);
  });

  it('rejects with aborted when the signal fires first, and the work failing later is not left unhandled', async () => {
    const unhandled = await unhandledDuring(async () => {
      const controller = new AbortController();
      const { work, fail } = pending();
      const waiting = abortable(work, controller.signal);
      controller.abort();
      await expect(waiting).rejects.toMatchObject({ code: 'aborted' });
      fail(new Error('the redemption failed after the caller left'));
    });
    expect(unhandled).toEqual([]);
  });

  it("passes the work's own answer or failure through when the signal does not fire", async () => {
    const controller = new AbortController();
    await expect(abortable(Promise.resolve(7), controller.signal)).resolves.toBe(7);
    await expect(abortable(Promise.reject(new Error('no')), controller.signal)).rejects.toThrow('no');
  });
});
