# Chatrix in a container image (docs/operations.md, "Docker"). The build stage runs the
# README's commands on Debian 12 (scripts/install-deps.sh, then `make package`); the runtime
# stage installs only the resulting .deb, whose Depends (computed from the libraries the
# programs link) bring in the runtime libraries and nothing else: no compiler, no -dev
# package. The package's postinst creates the chatrix system user the server runs as.
#   docker build -t chatrix .
#   docker run -p 6969:6969 -v chatrix-data:/var/lib/chatrix chatrix

FROM debian:12 AS build
WORKDIR /src
# The packages in a layer of their own, built again only when the list changes.
COPY scripts/install-deps.sh scripts/
RUN ./scripts/install-deps.sh server
COPY . .
RUN make package && mv build/chatrix_*.deb /chatrix.deb

FROM debian:12-slim
COPY --from=build /chatrix.deb /tmp/chatrix.deb
# curl answers the HEALTHCHECK below.
RUN apt-get update \
 && apt-get install -y --no-install-recommends /tmp/chatrix.deb curl \
 && rm -rf /var/lib/apt/lists/* /tmp/chatrix.deb \
 && install -d -o chatrix -g chatrix -m 0750 /var/lib/chatrix
# As in the systemd unit: the data dir is absolute, never ./data relative to the cwd.
ENV CHATRIX_DATA_DIR=/var/lib/chatrix
WORKDIR /var/lib/chatrix
VOLUME /var/lib/chatrix
USER chatrix
EXPOSE 6969
# SIGTERM drains (up to 5 s for the sessions, about 2 s more for the bus and the store):
# within docker stop's default 10 s; compose.yaml gives 30 s.
STOPSIGNAL SIGTERM
# /ready: 503 while the store (or, in a cluster, Redis) does not answer, and while draining.
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
  CMD curl -fsS -o /dev/null http://127.0.0.1:6969/ready || exit 1
ENTRYPOINT ["/usr/bin/chatrix"]
