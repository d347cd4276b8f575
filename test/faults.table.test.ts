import { describeReliability } from './support/faults.js';

describeReliability('table', { authorityPhases: true });
