// Jest runs in its ESM mode (Nest 12 is ESM only); @swc/jest compiles TypeScript with decorator metadata.
const swc = [
  '@swc/jest',
  {
    jsc: {
      parser: { syntax: 'typescript', decorators: true },
      transform: { legacyDecorator: true, decoratorMetadata: true },
      target: 'es2022',
      keepClassNames: true,
    },
    module: { type: 'es6' },
    sourceMaps: 'inline',
  },
];

const common = {
  extensionsToTreatAsEsm: ['.ts'],
  // The app and its tests import the library by its package name; tests run its TypeScript source.
  moduleNameMapper: {
    '^@redis-streams-alerts/nestjs-redis-streams$':
      '<rootDir>/packages/nestjs-redis-streams/src/index.ts',
    '^@redis-streams-alerts/nestjs-redis-streams/testing$':
      '<rootDir>/packages/nestjs-redis-streams/src/testing/index.ts',
    '^(\\.{1,2}/.*)\\.js$': '$1',
  },
  transform: { '^.+\\.ts$': swc },
  testEnvironment: 'node',
};

export default {
  // testTimeout is global in Jest, not per project; e2e tests bound their own waits well below it.
  testTimeout: 30_000,
  projects: [
    {
      ...common,
      displayName: 'unit',
      rootDir: '.',
      testMatch: ['<rootDir>/src/**/*.spec.ts', '<rootDir>/packages/*/src/**/*.spec.ts'],
    },
    {
      ...common,
      displayName: 'e2e',
      rootDir: '.',
      testMatch: ['<rootDir>/test/**/*.e2e-spec.ts', '<rootDir>/packages/*/test/**/*.e2e-spec.ts'],
    },
    {
      ...common,
      displayName: 'faults',
      rootDir: '.',
      testMatch: ['<rootDir>/test/faults/**/*.faults-spec.ts'],
    },
    {
      // The chaos checker's own tests; `npm run test:chaos` then runs the checker itself (main.ts).
      ...common,
      displayName: 'chaos',
      rootDir: '.',
      testMatch: ['<rootDir>/test/chaos/**/*.chaos-spec.ts'],
    },
    {
      ...common,
      displayName: 'cluster',
      rootDir: '.',
      testMatch: ['<rootDir>/test/cluster/**/*.cluster-spec.ts'],
    },
    {
      // A real Prometheus and Alertmanager in front of the built service (npm run test:stack).
      ...common,
      displayName: 'stack',
      rootDir: '.',
      testMatch: ['<rootDir>/test/stack/**/*.stack-spec.ts'],
    },
    {
      ...common,
      displayName: 'container',
      rootDir: '.',
      testMatch: ['<rootDir>/test/container/**/*.container-spec.ts'],
    },
  ],
};
