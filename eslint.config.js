import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Outside lib/, the library is reached through its entry point only (its internals are not its API). */
const libraryEntryPointOnly = {
  'no-restricted-imports': [
    'error',
    {
      patterns: [
        {
          group: ['**/lib/*', '!**/lib/index.js'],
          message: 'Import the library from lib/index.js: what it does not export is internal.',
        },
      ],
    },
  ],
};

export default tseslint.config(
  { ignores: ['dist/', 'lib/dist/', 'node_modules/', '.tools/', '.local/', 'eslint.config.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { project: './tsconfig.test.json', tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['app/**/*.ts', 'functions/**/*.ts', 'dev/**/*.ts', 'bench/**/*.ts', 'test/**/*.ts'],
    // White-box exceptions: unit tests of internals, and the helpers that open stored documents to inspect them.
    ignores: [
      'test/unit/**',
      'test/stores.conformance.test.ts',
      'test/support/stored.ts',
      'bench/support/stored.ts',
      'bench/support/seed.ts',
      'bench/scenarios/growth.ts',
    ],
    rules: libraryEntryPointOnly,
  },
);
