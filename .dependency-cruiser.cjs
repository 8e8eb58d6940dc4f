// Import boundaries, checked by `npm run lint` (`npm run lint:imports` alone). The package in
// packages/ is a library that other applications install: the app reaches it only through its
// public entries, the way a user would, and the package knows nothing of the app.

/** The app, its tests, benchmarks and scripts: everything outside packages/. */
const APP = '^(src|test|bench|scripts)/';
/** The package's public entries: the main one, and `./testing` for users' tests. */
const PUBLIC_ENTRIES = '^packages/[^/]+/src/(index|testing/index)\\.ts$';
/**
 * The repository's test helpers that the package's specs and the app's tests share (testbeds,
 * probes, fault proxy): one copy, with the package's specs. They are not part of the published
 * package; the app's test/support re-exports them.
 */
const SHARED_TEST_SUPPORT = '^packages/[^/]+/test/support/';

module.exports = {
  forbidden: [
    {
      name: 'app-imports-package-by-relative-path',
      comment:
        'The app, its tests, bench and scripts import the package by its name ' +
        '(@redis-streams-alerts/nestjs-redis-streams), never by a relative path into packages/.',
      severity: 'error',
      from: { path: APP },
      to: {
        path: '^packages/',
        pathNot: SHARED_TEST_SUPPORT,
        dependencyTypes: ['local'],
        dependencyTypesNot: ['aliased'],
      },
    },
    {
      name: 'app-imports-package-internals',
      comment:
        "The app uses the package's public API only: its main entry and ./testing. What it needs " +
        'from inside the package belongs in the public API (src/index.ts), documented.',
      severity: 'error',
      from: { path: APP },
      to: { path: '^packages/', pathNot: [PUBLIC_ENTRIES, SHARED_TEST_SUPPORT] },
    },
    {
      name: 'package-imports-app',
      comment:
        'The package knows nothing of the app: it is installed by applications it cannot see.',
      severity: 'error',
      from: { path: '^packages/' },
      to: { path: '^src/' },
    },
    {
      name: 'package-src-imports-root-tests',
      comment: "The package's code never depends on the app's test support.",
      severity: 'error',
      from: { path: '^packages/[^/]+/src/' },
      to: { path: '^test/' },
    },
    {
      name: 'package-tests-import-root-tests',
      comment:
        "The package's specs must not depend on the app's test support, or they cannot travel with " +
        'the package: they use its ./testing kit and their own test/support.',
      severity: 'error',
      from: { path: '^packages/[^/]+/test/' },
      to: { path: '^test/' },
    },
    {
      name: 'package-src-imports-package-tests',
      comment: "The package's code never imports its tests or its specs.",
      severity: 'error',
      from: { path: '^packages/([^/]+)/src/', pathNot: '\\.spec\\.ts$' },
      to: { path: ['^packages/$1/test/', '\\.spec\\.ts$'] },
    },
    {
      name: 'package-src-imports-testing-kit',
      comment:
        'The testing entry (src/testing/) may use any internal of the package, but nothing else ' +
        'in the package depends on it: applications do not load test code in production.',
      severity: 'error',
      from: {
        path: '^packages/([^/]+)/src/',
        pathNot: ['^packages/[^/]+/src/testing/', '\\.spec\\.ts$'],
      },
      to: { path: '^packages/$1/src/testing/' },
    },
    {
      name: 'package-circular',
      comment:
        'No import cycles inside the package: a cycle means two files that cannot be understood ' +
        '(or loaded) one without the other.',
      severity: 'error',
      from: { path: '^packages/' },
      to: { circular: true },
    },
    {
      name: 'not-to-unresolvable',
      comment: 'An import that does not resolve fails at run time.',
      severity: 'error',
      from: {},
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    // Only sources are cruised (see the lint:imports script); a built file is reached only by an
    // import, which the rules above then judge.
    exclude: { path: '(^|/)node_modules/' },
    // The package's name resolves, as tsconfig.json maps it, to its TypeScript entries.
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    enhancedResolveOptions: {
      exportsFields: ['exports'],
      conditionNames: ['import', 'require', 'node', 'default', 'types'],
      extensions: ['.ts', '.js', '.mjs', '.cjs', '.d.ts', '.json'],
    },
  },
};
