# syntax=docker/dockerfile:1
# One image for the whole lab: rickmorty-api (the service), fake-upstream, chaos and lab (whose
# `lab smoke` is the chart's `helm test`). The chart picks the program with `command:`.
#
#   docker build -t rickmortylab:dev --build-arg REVISION="$(git rev-parse HEAD)" .
#
# The runtime stage holds only the shared libraries the binaries link (scripts/check-image.py
# checks this list against `ldd` of a release build made the same way), runs as a numeric
# non-root user and needs no shell, so it works with a read-only root filesystem: the SQLite
# default lives under /data, which the chart mounts as a writable volume.

ARG SWIFT_IMAGE=swift:6.3-bookworm
ARG RUNTIME_IMAGE=debian:bookworm-slim

FROM ${SWIFT_IMAGE} AS build
# The -dev packages of the three C libraries the Native module wraps. Versions are not pinned
# (hadolint DL3008): Debian's bookworm suite only ships security fixes, and the runtime stage
# must get the same ones.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq-dev libsqlite3-dev libcurl4-openssl-dev \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
# Dependencies first, so that a change to our sources does not fetch them again.
COPY Package.swift ./
RUN swift package resolve
COPY Sources ./Sources
# Package.swift declares the test targets, and SwiftPM wants their folders to exist.
COPY Tests ./Tests
RUN swift build -c release --static-swift-stdlib \
        --product rickmorty-api --product fake-upstream --product chaos --product lab \
    && mkdir -p /out \
    && for program in rickmorty-api fake-upstream chaos lab; do \
           cp "$(swift build -c release --show-bin-path)/$program" /out/; \
       done

FROM ${RUNTIME_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
LABEL org.opencontainers.image.title="rickmortylab" \
      org.opencontainers.image.description="Rick and Morty characters API with its reliability lab: fake upstream, chaos proxy, smoke test" \
      org.opencontainers.image.source="https://github.com/rickmortylab/rickmortylab" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}"
# Exactly what `ldd` of the release binaries needs (scripts/check-image.py), plus CA
# certificates for HTTPS to the public API. No tzdata: the App logs and stores UTC only.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends libpq5 libsqlite3-0 libcurl4 ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data \
    && chown 10001:10001 /data
COPY --from=build /out/ /usr/local/bin/
USER 10001:10001
WORKDIR /data
ENV HOST=0.0.0.0 \
    PORT=8000 \
    DATABASE_URL=sqlite:///data/rickmorty.sqlite
EXPOSE 8000
# The App drains on SIGTERM (the kubelet's and `docker stop`'s signal); say so explicitly.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/rickmorty-api"]
