# syntax=docker/dockerfile:1
# A static pingpanda on distroless: no shell, non-root, no added capabilities.
# ICMP works unprivileged because Docker (20.10+) and containerd give each
# container with its own network namespace net.ipv4.ping_group_range="0 2147483647".
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/pingpanda ./cmd/pingpanda \
 && mkdir -p /out/state /out/logs

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/pingpanda /usr/local/bin/pingpanda
# The state file's home when REDIS_URL is unset; mount a volume here so
# failure counts and alert latches outlive the container.
COPY --from=build --chown=nonroot:nonroot /out/state /state
ENV STATE_FILE=/state/state.json
# LOG_DIR's default: the stats log (STORE_STATS_LOG) and the log file
# (LOG_TO_FILE) go here, writable by the non-root user; mount a volume to
# keep them.
COPY --from=build --chown=nonroot:nonroot /out/logs /logs
VOLUME /state /logs
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/pingpanda"]
