# The alerts service as one image: `docker build -t redis-streams-alerts .`
# (podman: `podman build --format docker ...`, or the HEALTHCHECK is dropped from OCI-format images).

# Build stage: every dependency (TypeScript and the type packages are dev dependencies), then tsc.
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/nestjs-redis-streams/package.json ./packages/nestjs-redis-streams/
RUN npm ci --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY packages/nestjs-redis-streams ./packages/nestjs-redis-streams
COPY src ./src
RUN npm run build

# Runtime stage: production dependencies and the compiled dist/ only; no sources, no compiler.
FROM node:20-bookworm-slim AS runtime
ENV NODE_ENV=production \
    PORT=3000
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/nestjs-redis-streams/package.json ./packages/nestjs-redis-streams/
# No production dependency has an install script, so none is allowed to run.
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund \
    && npm cache clean --force
COPY --from=build /app/dist ./dist
# The library is an npm workspace: the app imports it by its package name, from its compiled dist/.
COPY --from=build /app/packages/nestjs-redis-streams/dist ./packages/nestjs-redis-streams/dist
# The files stay owned by root: the service only reads them, and cannot rewrite its own code.
USER node
EXPOSE 3000
# /health/live asks nothing outside the process, so a slow Redis never gets the container restarted
# (that is readiness's job). fetch is built into Node 20: no curl in the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 3000) + '/health/live', { signal: AbortSignal.timeout(3000) }).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form, node itself as PID 1: SIGTERM goes straight to the handler in main.ts (no npm or sh in
# between to swallow it). No --init needed: main.ts handles SIGTERM and SIGINT itself, and the
# service starts no child processes that would need reaping.
CMD ["node", "dist/main.js"]
