# syntax=docker/dockerfile:1
# Kryton server image: the `kryton` binary built with the Rust toolchain, run on slim Debian as a
# non-root user. Every start migrates, then serves (`kryton serve`); the same image runs the
# migrator out of band: `docker run --rm -e POSTGRES_URL=... IMAGE migrate`.
#
# Build:   docker build --build-arg KRYTON_COMMIT="$(git rev-parse HEAD)" -t kryton:dev .
# Offline: scripts/docker-base-images.sh makes local images under the two names below (a debootstrap
#          rootfs, and the same rootfs plus the host's Rust toolchain), so this one file is what both
#          a registry-connected build and the offline smoke test (scripts/docker-smoke.sh) build.
ARG RUST_IMAGE=rust:1.95-bookworm
ARG NODE_IMAGE=node:20-bookworm-slim
ARG RUNTIME_IMAGE=debian:bookworm-slim

# The web app (web/), built with npm from its lockfile; the Rust stage embeds web/dist.
FROM ${NODE_IMAGE} AS web
ENV PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
WORKDIR /src/web
COPY web/package.json web/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web/ ./
# The API types are generated from the server's committed OpenAPI document when it exists.
COPY crates/kryton-server/ /src/crates/kryton-server/
RUN npm run build

FROM ${RUST_IMAGE} AS build
# The commit the image is built from; the binary reports it at /api/version. The build context has
# no .git (see .dockerignore), so it must come in as a build arg.
ARG KRYTON_COMMIT=
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
# Built by the node stage above: build.rs embeds it as is instead of running npm again.
COPY --from=web /src/web/dist ./web/dist
ENV KRYTON_SKIP_WEB_BUILD=1
# An empty KRYTON_COMMIT is unset rather than exported, so the server falls back to /COMMIT_SHA.
RUN if [ -z "${KRYTON_COMMIT}" ]; then unset KRYTON_COMMIT; fi \
 && cargo build --release --locked -p kryton-server --bin kryton \
 && install -D -m 0755 target/release/kryton /out/kryton

FROM ${RUNTIME_IMAGE}
ARG KRYTON_COMMIT=
LABEL org.opencontainers.image.title="kryton" \
      org.opencontainers.image.description="Kryton: a self-hosted markdown knowledge base server" \
      org.opencontainers.image.source="https://github.com/azrtydxb/kryton-rs" \
      org.opencontainers.image.licenses="AGPL-3.0-only" \
      org.opencontainers.image.revision="${KRYTON_COMMIT}"
# uid/gid 10001: outside the range of users a host is likely to have, and the id the Helm chart's
# securityContext uses. /data is created owned by it so a fresh named volume inherits the owner.
RUN groupadd --system --gid 10001 kryton \
 && useradd --system --uid 10001 --gid 10001 --home-dir /data --no-create-home \
      --shell /usr/sbin/nologin kryton \
 && mkdir -p /data/notes \
 && chown -R 10001:10001 /data \
 && printf '%s\n' "${KRYTON_COMMIT:-unknown}" > /COMMIT_SHA
COPY --from=build /out/kryton /usr/local/bin/kryton
ENV DATA_DIR=/data \
    NOTES_DIR=/data/notes \
    HOST=0.0.0.0 \
    PORT=3001
USER 10001:10001
WORKDIR /data
VOLUME /data
EXPOSE 3001
# `kryton healthcheck` GETs http://127.0.0.1:$PORT/healthz (no curl in the image). The listener opens
# only after migrations, so a long start period keeps a slow migration from reading as unhealthy;
# Docker itself never restarts an unhealthy container, this is status only.
HEALTHCHECK --interval=30s --timeout=5s --start-period=15m --retries=3 CMD ["kryton", "healthcheck"]
ENTRYPOINT ["kryton"]
CMD ["serve"]
