import { describeReliability } from './support/faults.js';

describeReliability('cosmos', { authorityPhases: false });
