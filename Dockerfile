# syntax=docker/dockerfile:1

# ---- build stage -----------------------------------------------------------
FROM rust:1-bookworm AS builder
WORKDIR /src

COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY migrations ./migrations
COPY survey-defs ./survey-defs
# Embedded in the binary at build time (rust-embed): the widget, hosted-page files and USWDS.
COPY assets ./assets

RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    cargo build --release --locked \
    && install -m 0755 target/release/cx-survey /usr/local/bin/cx-survey

# ---- runtime stage ---------------------------------------------------------
FROM debian:bookworm-slim

# DL3008: Debian's security archive replaces package versions, so pinning
# ca-certificates/curl to exact versions would break rebuilds; we take the
# current bookworm versions at build time instead.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
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

HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["sh", "-c", "curl -fsS http://127.0.0.1:8080/healthz || exit 1"]

ENTRYPOINT ["cx-survey"]
CMD ["serve"]
