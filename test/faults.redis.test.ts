import { describe } from 'vitest';
import { redisAvailable } from './support/emulators.js';
import { describeReliability } from './support/faults.js';

describe.skipIf(!redisAvailable())('redis', () => describeReliability('redis', { authorityPhases: false }));
