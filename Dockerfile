# Goodwill, production image: `goodwill migrate`, then `goodwill serve` on 0.0.0.0:8000.
#
#   docker build -t goodwill .
#   docker run -p 8000:8000 -v goodwill-data:/data goodwill
#   docker run --rm -v goodwill-data:/data goodwill goodwill owners create --email you@example.com
#
# PostgreSQL instead of the embedded SQLite file:
#   -e GOODWILL_DATABASE_URL=postgresql://user@host:5432/goodwill
# With several replicas, migrate once as its own step and start the replicas without it:
#   docker run --rm -e GOODWILL_DATABASE_URL=... goodwill goodwill migrate
#   docker run -e GOODWILL_DATABASE_URL=... -e GOODWILL_MIGRATE_ON_START=false goodwill
#
# The base is an argument: any Debian-like image with python3 (3.11 or newer) and its venv
# module will do. CI has no registry to pull from, so `make image-check` builds on a stand-in
# debootstrapped from Debian's own python3 (docker/image-check.sh):
#   docker build --build-arg BASE_IMAGE=localhost/goodwill-base:bookworm -t goodwill .
ARG BASE_IMAGE=python:3.11-slim-bookworm
FROM ${BASE_IMAGE}

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore \
    VIRTUAL_ENV=/opt/venv
# Everything below, the entry point and the HEALTHCHECK find python, pip and goodwill here.
ENV PATH=/opt/venv/bin:$PATH

WORKDIR /app

# Dependencies first, pinned and hash-checked, so this layer is reused until the lock changes.
# The runtime lock: no test tools in the image. In a virtualenv, so that the same steps work on
# the official image and on Debian's python3, which has no pip of its own and refuses installs
# into the system's site-packages (PEP 668).
COPY requirements-runtime.lock ./
RUN python3 -m venv "$VIRTUAL_ENV" \
    && pip install --require-hashes -r requirements-runtime.lock

# The source stays in /app and is installed in editable mode: app/core/migrations.py finds
# alembic.ini and migrations/ two directories above itself, which is /app here (a regular
# install would put the package in site-packages, away from them).
COPY pyproject.toml README.md alembic.ini ./
COPY migrations ./migrations
COPY app ./app
COPY docker/entrypoint.sh /usr/local/bin/goodwill-entrypoint
RUN pip install --no-deps -e . \
    && python -m compileall -q app migrations \
    && chmod 0755 /usr/local/bin/goodwill-entrypoint \
    && groupadd --system --gid 10001 goodwill \
    && useradd --system --uid 10001 --gid goodwill --home-dir /app --no-create-home \
        --shell /usr/sbin/nologin goodwill \
    && mkdir /data \
    && chown goodwill:goodwill /data

# The embedded SQLite database lives on the volume; set a postgresql:// URL to use PostgreSQL.
ENV GOODWILL_DATABASE_URL=sqlite:////data/goodwill.db \
    GOODWILL_MIGRATE_ON_START=true \
    GOODWILL_WORKERS=2
VOLUME ["/data"]

# Numeric, so that runtimes enforcing runAsNonRoot can verify it.
USER 10001:10001
EXPOSE 8000

# Liveness only; /readyz (database reachable and migrated) is for the load balancer.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, sys, urllib.request; port = os.environ.get('GOODWILL_PORT', '8000'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/healthz', timeout=4).status == 200 else 1)"]

ENTRYPOINT ["goodwill-entrypoint"]
