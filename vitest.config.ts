import { defineConfig } from 'vitest/config';

export default defineConfig({
  resolve: {
    // Workspace packages export their TypeScript sources under this condition,
    // so tests run against src/ without a build step.
    conditions: ['@z4j/source'],
  },
  ssr: {
    resolve: {
      conditions: ['@z4j/source'],
    },
  },
  test: {
    include: ['{internal,packages,services,cli,bench}/**/src/**/*.test.ts', 'cli/test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/dist/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
