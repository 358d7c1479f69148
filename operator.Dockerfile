# The kryton-operator image: a static-ish Rust binary on a distroless base, non-root.
#   docker build -f operator.Dockerfile -t ghcr.io/azrtydxb/kryton-rs/kryton-operator:<tag> .
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates ./crates
RUN cargo build --release --locked -p kryton-operator --bin kryton-operator \
    && cp target/release/kryton-operator /kryton-operator

FROM gcr.io/distroless/cc-debian12:nonroot
ARG KRYTON_COMMIT=unknown
LABEL org.opencontainers.image.source="https://github.com/azrtydxb/kryton-rs" \
      org.opencontainers.image.title="kryton-operator" \
      org.opencontainers.image.description="Kubernetes operator for Kryton" \
      org.opencontainers.image.licenses="AGPL-3.0-only" \
      org.opencontainers.image.revision="${KRYTON_COMMIT}"
COPY --from=build /kryton-operator /usr/local/bin/kryton-operator
USER 65532:65532
EXPOSE 8080 8081
ENTRYPOINT ["/usr/local/bin/kryton-operator"]
CMD ["run"]
