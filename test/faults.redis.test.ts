import { describe } from 'vitest';
import { redisAvailable, redisSkipNote } from './support/emulators.js';
import { describeReliability } from './support/faults.js';

describe.skipIf(!redisAvailable())(`redis${redisSkipNote()}`, () =>
  describeReliability('redis', { authorityPhases: false }),
);
