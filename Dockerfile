# honcho-server image: one process per container, `serve` (API + in-process worker) by default.
#   docker build -t honcho-server .
#   docker run --init -p 8000:8000 -v honcho-data:/data \
#     -e HONCHO_AUTH__ENABLED=true -e HONCHO_AUTH__JWT_SECRET="$(python3 -c 'import secrets; print(secrets.token_urlsafe(32))')" \
#     honcho-server
# BASE_IMAGE must be a Debian-like image with python3 (3.11+) and its venv module; both stages use it, so the
# venv's interpreter link is valid in the final stage. See docs/containers.md.
ARG BASE_IMAGE=python:3.12-slim

FROM ${BASE_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
# The build context is only pyproject.toml, README.md, LICENSE and src/ (.dockerignore allows nothing else).
COPY . /build
# pip's cache lives in a build cache mount, not in a layer (BuildKit keeps it between builds).
RUN --mount=type=cache,target=/root/.cache/pip \
    python3 -m venv /opt/honcho \
    && /opt/honcho/bin/pip install '/build[postgres,fast,mcp]' \
    && /opt/honcho/bin/pip uninstall -y pip setuptools

FROM ${BASE_IMAGE}
LABEL org.opencontainers.image.title="honcho-server" \
      org.opencontainers.image.description="Self-hostable memory server speaking the Honcho v3 HTTP API" \
      org.opencontainers.image.licenses="Apache-2.0"
# A fixed uid, so a bind-mounted /data can be chown'd to it (10001:10001) on the host.
RUN groupadd --system --gid 10001 honcho \
    && useradd --system --uid 10001 --gid honcho --home-dir /data --no-create-home --shell /usr/sbin/nologin honcho \
    && mkdir /data && chown honcho:honcho /data
COPY --from=builder /opt/honcho /opt/honcho
ENV PATH=/opt/honcho/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    HOME=/data \
    HONCHO_DB__URL=sqlite:////data/honcho.db \
    HONCHO_SERVER__HOST=0.0.0.0 \
    HONCHO_SERVER__PORT=8000
# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
WORKDIR /data
VOLUME ["/data"]
EXPOSE 8000
# Readiness (database, schema, worker heartbeat, queue lag), not mere liveness; urllib, so no curl in the image.
# No spaces inside the code: podman 4's Docker API splits a healthcheck's arguments on them.
# A `worker` container has no HTTP port: compose.yaml turns this check off there.
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python3", "-c", "__import__('urllib.request').request.urlopen('http://127.0.0.1:%s/ready'%__import__('os').environ.get('HONCHO_SERVER__PORT','8000'),timeout=4)"]
ENTRYPOINT ["honcho-server"]
CMD ["serve"]
