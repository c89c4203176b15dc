# syntax=docker/dockerfile:1
# cx-survey image: docker build -t cx-survey --build-arg REVISION=$(git rev-parse HEAD) .
# Dependencies are compiled in their own layer (cargo-chef): a source edit rebuilds only the
# cx-survey crate, a Cargo.toml/Cargo.lock change rebuilds the dependencies.

# Cargo.toml's rust-version (scripts/check-rust-version keeps it true).
ARG RUST_VERSION=1.95

# ---- chef: cargo-chef, installed once ----------------------------------------
FROM rust:${RUST_VERSION}-bookworm AS chef
RUN cargo install cargo-chef --locked --version 0.1.78
WORKDIR /src

# ---- planner: the dependency recipe (changes only with the manifests) ---------
FROM chef AS planner
COPY . .
RUN cargo chef prepare --recipe-path recipe.json

# ---- builder: dependencies from the recipe, then the crate --------------------
FROM chef AS builder
COPY --from=planner /src/recipe.json recipe.json
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    cargo chef cook --release --locked --recipe-path recipe.json

COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY survey-defs ./survey-defs
# Embedded in the binary at build time (rust-embed): the widget, hosted-page files and USWDS.
COPY assets ./assets
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    cargo build --release --locked --bin cx-survey \
    && install -m 0755 target/release/cx-survey /usr/local/bin/cx-survey

# ---- runtime -------------------------------------------------------------------
FROM debian:bookworm-slim

ARG VERSION=0.1.0
ARG REVISION=unknown
ARG CREATED=unknown
LABEL org.opencontainers.image.title="cx-survey" \
      org.opencontainers.image.description="Post-transaction customer experience surveys for federal High Impact Service Providers (OMB A-11 Section 280)" \
      org.opencontainers.image.licenses="CC0-1.0" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.created="${CREATED}" \
      org.opencontainers.image.base.name="docker.io/library/debian:bookworm-slim"

# ca-certificates: the system trust store the SMTP client verifies relays against (add a private
# CA with CX_SMTP_CA_FILE); libssl3: libpq's TLS to PostgreSQL.
# DL3008: Debian's security archive replaces package versions, so pinning exact versions would
# break rebuilds; we take the current bookworm versions at build time instead.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3 \
    && rm -rf /var/lib/apt/lists/*

RUN groupadd --system --gid 10001 cx \
    && useradd --system --uid 10001 --gid cx --home-dir /app --no-create-home --shell /usr/sbin/nologin cx \
    && mkdir -p /data \
    && chown cx:cx /data

WORKDIR /app

COPY --from=builder /usr/local/bin/cx-survey /usr/local/bin/cx-survey
COPY survey-defs /app/survey-defs

ENV DATABASE_URL=sqlite:///data/cx-survey.db \
    CX_BIND=0.0.0.0:8080 \
    CX_SURVEY_DEFS=/app/survey-defs

VOLUME ["/data"]
USER 10001:10001
EXPOSE 8080

# `cx-survey healthcheck` probes http://127.0.0.1:8080/readyz (CX_BIND on loopback): exit 0 when
# the server and its database answer, 1 otherwise. No curl in the image.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["cx-survey", "healthcheck"]

ENTRYPOINT ["cx-survey"]
CMD ["serve"]
