# syntax=docker/dockerfile:1
#
# The z4j brain: one image, five services. The default command runs all of
# them in one process (`z4j serve`); on Kubernetes each Deployment overrides
# the command with `node services/<name>/dist/main.js` (see deploy/k8s/).
#
#   docker build -t z4j .
#   docker run -p 7700:7700 -v z4j-home:/home/node/.z4j z4j              # embedded database
#   docker run -p 7700:7700 -e Z4J_DATABASE_URL=… -e Z4J_SECRET=… \
#     -e Z4J_SESSION_SECRET=… -e Z4J_PUBLIC_URL=https://… z4j             # Postgres

ARG NODE_IMAGE=node:20-bookworm-slim

# ---------------------------------------------------------------- build
FROM ${NODE_IMAGE} AS build
WORKDIR /app

# The npm of package.json's "packageManager", so package-lock.json is read the
# way it was written (the base image ships an older npm).
ARG NPM_VERSION=11.19.1
RUN npm install -g "npm@${NPM_VERSION}" --no-audit --no-fund

COPY . .

# `npm install`, not `npm ci`: the committed lock file omits registry URLs and
# `npm ci` does not work with this project's registry set-up.
# --ignore-scripts skips the root "prepare" (it would build before we ask it
# to) and dev-only install scripts (esbuild, used by vitest); the runtime has
# no native dependencies. Then build every workspace, and drop dev
# dependencies: `npm prune --omit=dev` keeps the workspace symlinks in
# node_modules/@z4j/* and removes the hoisted dev tools.
RUN npm install --ignore-scripts --no-audit --no-fund \
 && npm run build \
 && npm prune --omit=dev --ignore-scripts --no-audit --no-fund

# -------------------------------------------------------------- runtime
FROM ${NODE_IMAGE} AS runtime

ENV NODE_ENV=production \
    Z4J_BIND_HOST=0.0.0.0 \
    Z4J_BIND_PORT=7700

WORKDIR /app

# The whole built tree: node_modules (with the @z4j/* workspace symlinks),
# every */dist, cli/bin, sql/migrations (read at run time from
# <repo>/sql/migrations) and the package.json files. Owned by root so the
# brain cannot modify its own code.
COPY --from=build /app /app

# $Z4J_HOME for the embedded database and minted secrets when run without
# Z4J_DATABASE_URL; created here so a named volume mounted on it is writable
# by the node user. Kubernetes sets Z4J_HOME=/tmp/z4j on an emptyDir instead.
RUN mkdir -p /home/node/.z4j && chown node:node /home/node/.z4j

# The base image's `node` user, numerically, so Kubernetes' runAsNonRoot can
# verify it.
USER 1000:1000

# 7700: HTTP + WebSocket (API, dashboard, /ws, health, metrics).
# 7701: scheduler gRPC (mTLS), only with Z4J_SCHEDULER_GRPC_ENABLED=true.
EXPOSE 7700 7701

HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.Z4J_BIND_PORT || 7700) + '/api/v1/health').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

# SIGTERM drains and exits 0; node runs as PID 1 and handles it itself.
CMD ["node", "cli/bin/z4j.js", "serve"]
