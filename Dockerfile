# Build: docker compose build. The runtime image carries Debian's Chromium and CJK fonts
# (policy and H5 captures, PDF reports); nothing is downloaded at run time.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -o /out/pilmon ./cmd/pilmon

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends \
      chromium fonts-noto-cjk ca-certificates redis-server \
    && rm -rf /var/lib/apt/lists/*
COPY --from=build /out/pilmon /usr/local/bin/pilmon
RUN useradd --system --home /data pilmon && mkdir -p /data && chown pilmon /data
USER pilmon
VOLUME /data
EXPOSE 8080
ENTRYPOINT []
CMD ["pilmon", "serve", "--listen", "0.0.0.0:8080", "--data-dir", "/data"]
