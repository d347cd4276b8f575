import { describe, expect, it } from 'vitest';
import { WhileWaiting } from '../../lib/while-waiting.js';

const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

/** A WhileWaiting whose `make` records each call. */
function counted(order: string[] = []) {
  let made = 0;
  const waiting = new WhileWaiting(() => {
    order.push('made');
    return ++made;
  });
  return { waiting, made: () => made };
}

describe('WhileWaiting', () => {
  it('makes its value in the check phase, after the immediates set before it, and take gives that value', async () => {
    const order: string[] = [];
    setImmediate(() => order.push('earlier immediate'));
    const { waiting, made } = counted(order);
    order.push('synchronous');
    await nextTurn();
    expect(order).toEqual(['synchronous', 'earlier immediate', 'made']);
    expect(waiting.take()).toBe(1);
    expect(made()).toBe(1);
  });

  it('take before the check phase makes the value then, and nothing is made afterwards', async () => {
    const { waiting, made } = counted();
    expect(waiting.take()).toBe(1);
    await nextTurn();
    expect(made()).toBe(1);
  });

  it('drop before the check phase: nothing is made', async () => {
    const { waiting, made } = counted();
    waiting.drop();
    await nextTurn();
    expect(made()).toBe(0);
  });

  it('taken or dropped before the check phase, it leaves no immediate pending', () => {
    const immediates = () => process.getActiveResourcesInfo().filter((name) => name === 'Immediate').length;
    const before = immediates();
    for (let i = 0; i < 50; i++) counted().waiting.take();
    for (let i = 0; i < 50; i++) counted().waiting.drop();
    expect(immediates()).toBe(before);
  });
});
