# connector-host in a container: built on Debian 12, run as a non-root user.
#   docker build -t connector-host .
#   docker run -p 8080:8080 -v connector-data:/var/lib/connector-host \
#     -e CONNECTOR_GITHUB_CLIENT_ID=... -e CONNECTOR_GITHUB_CLIENT_SECRET_FILE=/run/secrets/github \
#     -e CONNECTOR_PUBLIC_URL=https://connectors.example.com connector-host

FROM debian:12 AS build
WORKDIR /src
COPY . .
# The project's own script installs the build dependencies from Debian's packages.
RUN scripts/install-deps.sh \
 && cmake -S . -B /build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCONNECTOR_BUILD_TESTS=OFF \
 && cmake --build /build \
 && cmake --install /build --prefix /opt/connector-host --component host \
 && cmake --install /build --prefix /opt/connector-host --component plugins

FROM debian:12-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends ca-certificates libssl3 libsqlite3-0 libsystemd0 \
      libboost-url1.81.0 libprometheus-cpp-core1.0 libjemalloc2 libre2-9 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /var/lib/connector-host --shell /usr/sbin/nologin connector-host \
 && install -d -m 0700 -o connector-host -g connector-host /var/lib/connector-host
COPY --from=build /opt/connector-host /opt/connector-host
USER connector-host
WORKDIR /var/lib/connector-host
ENV CONNECTOR_LISTEN=0.0.0.0:8080 \
    CONNECTOR_DATA_DIR=/var/lib/connector-host
VOLUME /var/lib/connector-host
EXPOSE 8080
# The plugins are found beside the binary (/opt/connector-host/lib/connector-host/plugins);
# drop more .so files there (or mount a folder and set CONNECTOR_PLUGINS_DIR).
ENTRYPOINT ["/opt/connector-host/bin/connector-host"]
CMD ["serve"]
