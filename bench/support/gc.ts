/**
 * A full garbage collection on demand, for live-heap figures, without `--expose-gc` on the command line (the npm
 * script is plain `node dist/bench/run.js`): the flag is set at run time and `gc` taken from a fresh context — the
 * way Jest's leak detection does it. Returns false when the runtime refuses.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let gc: (() => void) | undefined;

export function collectGarbage(): boolean {
  try {
    if (!gc) {
      setFlagsFromString('--expose-gc');
      gc = runInNewContext('gc') as () => void;
    }
    gc();
    return true;
  } catch {
    return false;
  }
}
