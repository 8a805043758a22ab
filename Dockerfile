# feedgate as a container image: one statically linked binary on an empty base.
#
# Build it with `scripts/build-image`: no base image is pulled (`FROM scratch`) and nothing runs at
# build time. The script compiles feedgate statically outside the image and stages the build
# context (not the repository) as:
#
#   feedgate        the static binary, debug info stripped
#   feedgate.toml   the default config (deploy/image/feedgate.toml: no feeds)
#   data/           an empty directory, becomes /data owned by the runtime user
#
# Configure it by environment (FEEDGATE_* override the config file) or replace the config by
# mounting a file or directory over /etc/feedgate. Data lives in the /data volume. Logs go to
# stderr without colour codes (NO_COLOR): container logs are files, not terminals.
FROM scratch

COPY feedgate /usr/local/bin/feedgate
COPY feedgate.toml /etc/feedgate/feedgate.toml
COPY --chown=65532:65532 data /data

ENV FEEDGATE_LISTEN=0.0.0.0:8080 \
    FEEDGATE_DATA_DIR=/data \
    FEEDGATE_CONFIG=/etc/feedgate/feedgate.toml \
    NO_COLOR=1

# Numeric, non-root: no passwd file is needed and `runAsNonRoot` can verify it.
USER 65532:65532
EXPOSE 8080
VOLUME ["/data"]
# The image has no shell or curl: the binary probes itself (GET http://127.0.0.1:8080/healthz, from
# FEEDGATE_LISTEN; exit 0 on 2xx, 1 otherwise). Kept by `podman build --format docker` (OCI
# images have no HEALTHCHECK).
HEALTHCHECK --interval=30s --timeout=5s --start-period=10s --retries=3 \
    CMD ["/usr/local/bin/feedgate", "healthcheck", "--timeout", "3s"]
# feedgate drains in-flight requests (shutdown_grace, 10 s by default), flushes and exits 0.
STOPSIGNAL SIGTERM
ENTRYPOINT ["/usr/local/bin/feedgate"]
CMD ["serve"]
