// Shared with the library's own specs, which keep it: one copy, in the package's test support.
export * from '../../packages/nestjs-redis-streams/test/support/wait-for.js';
