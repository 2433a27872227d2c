# syntax=docker/dockerfile:1
# Atrium's container image: `docker build -t atrium:0.1.0 .` at the repository root.

# Build stage: the same setup script as the README, a Release build, and the unit tests (a
# failing test fails the image build).
FROM debian:bookworm-slim AS build
WORKDIR /src
# The script alone first: the package layer is rebuilt only when the package list changes.
COPY scripts/setup.sh scripts/setup.sh
RUN scripts/setup.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DATRIUM_BUILD_BENCH=OFF \
 && cmake --build /build -j"$(nproc)" --target atrium atrium_unit_tests \
 && ctest --test-dir /build -L unit --output-on-failure \
 && strip /build/atrium \
 && install -d -m 0750 /out/var/lib/atrium

# Runtime stage: the shared libraries the binary links and nothing else. The list is what
# `ldd atrium` names, mapped to packages with `dpkg -S` (libc6, libstdc++6 and libgcc-s1 are
# already in bookworm-slim, libcrypt1 is essential); a library the code starts linking adds its
# runtime package here. ca-certificates: the system CA bundle, which the API client falls
# back to for a kubeconfig without a CA of its own.
FROM debian:bookworm-slim
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libboost-program-options1.81.0 libboost-url1.81.0 libfmt9 libre2-9 libspdlog1.10 \
      libssl3 libyaml-cpp0.7 libhiredis0.14 ca-certificates \
 && rm -rf /var/lib/apt/lists/* /var/cache/apt/archives/* /var/log/apt /var/log/dpkg.log
COPY --from=build /build/atrium /usr/local/bin/atrium
# A home for --state-dir /var/lib/atrium, writable by the runtime user (the chart mounts an emptyDir
# there instead, because it runs with a read-only root filesystem).
COPY --from=build --chown=65532:65532 /out/var/lib/atrium /var/lib/atrium
# Non-root, numeric so that Kubernetes' runAsNonRoot can check it without /etc/passwd.
USER 65532:65532
# 8080 HTTP, 8443 HTTPS, 9901 admin (/healthz, /readyz, /metrics, /config).
EXPOSE 8080 8443 9901
ENTRYPOINT ["atrium"]
