# syntax=docker/dockerfile:1
# Build stage: the same setup script as the README, a Release build, and the unit tests.
FROM debian:bookworm-slim AS build
WORKDIR /src
COPY scripts/setup.sh scripts/setup.sh
RUN scripts/setup.sh && rm -rf /var/lib/apt/lists/*
COPY . .
RUN cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DATRIUM_BUILD_BENCH=OFF \
 && cmake --build /build -j"$(nproc)" --target atrium atrium_unit_tests \
 && ctest --test-dir /build -L unit --output-on-failure \
 && strip /build/atrium

# Runtime stage: only the shared libraries the binary links, and the binary.
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      libssl3 libre2-9 libyaml-cpp0.7 libspdlog1.10 libfmt9 libboost-program-options1.81.0 \
      libboost-url1.81.0 ca-certificates \
 && rm -rf /var/lib/apt/lists/*
COPY --from=build /build/atrium /usr/local/bin/atrium
USER 65532:65532
EXPOSE 8080 8443 9901
ENTRYPOINT ["atrium"]
