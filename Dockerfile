# syntax=docker/dockerfile:1
#
# Regie container image.
#
#   docker build -t regie .
#   docker run -d -p 8000:8000 -v regie-data:/var/lib/regie \
#       -e REGIE_PUBLIC_URL=https://vault.example.nl regie
#
# REGIE_PUBLIC_URL MUST be set to the https:// URL at which residents reach the vault (the
# origin behind your TLS-terminating proxy). The image runs in production mode, which refuses
# to start with a plain-http REGIE_PUBLIC_URL unless its host is localhost; the default
# (http://localhost:8000) only suits trying the image out on your own machine, since passkeys
# are bound to that host name.
#
# Data (SQLite database, keyring.json) lives in the volume /var/lib/regie, owned by uid 10001;
# a bind-mounted directory must be owned by that uid (chown 10001:10001 DIR). For PostgreSQL set
# REGIE_DATABASE_URL. For the PKCS#11 key backend mount the module of your HSM and set
# REGIE_KEY_BACKEND=pkcs11, REGIE_PKCS11_MODULE, REGIE_PKCS11_TOKEN_LABEL and REGIE_PKCS11_PIN
# (no PKCS#11 module is installed in the image). api/settings.py lists every REGIE_* setting.
#
# The entry point runs `regie migrate`, then `exec regie serve` (see docker-entrypoint.sh);
# arguments starting with "-" go to `regie serve` (e.g. `--workers 2`), any other command runs
# as given (e.g. `docker run --rm -v regie-data:/var/lib/regie regie regie keys status`).
# Building needs BuildKit (the default builder since Docker 23).

ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: wheels of the dependencies and of the project ------------------------------
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_ROOT_USER_ACTION=ignore
WORKDIR /src

# Dependencies first, from the lock file alone (exact versions, every file's hash checked), so
# that code changes reuse this layer and two builds of one commit install the same bytes.
# `make lock` regenerates requirements.lock from pyproject.toml; tests/unit/test_lock_file.py
# fails when the two disagree.
COPY requirements.lock ./
RUN pip wheel --require-hashes --wheel-dir /wheels --requirement requirements.lock

COPY pyproject.toml ./

COPY README.md ./
COPY api ./api
COPY clients ./clients
COPY keys ./keys
COPY vault ./vault
RUN pip wheel --no-deps --wheel-dir /wheels .

# --- runtime: the wheels only, no compilers, no build tools, a non-root user ---------------
FROM ${PYTHON_IMAGE}

ENV REGIE_MODE=production \
    REGIE_DATA_DIR=/var/lib/regie \
    REGIE_HOST=0.0.0.0 \
    REGIE_PORT=8000 \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_ROOT_USER_ACTION=ignore

RUN groupadd --system --gid 10001 regie \
 && useradd --system --uid 10001 --gid regie --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin regie \
 && install -d -o regie -g regie -m 0700 /var/lib/regie

# Bind-mount the wheels instead of copying them, so they do not stay behind in a layer.
RUN --mount=type=bind,from=builder,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels regie

COPY --chmod=0755 docker-entrypoint.sh /usr/local/bin/docker-entrypoint.sh

WORKDIR /app
USER 10001:10001
VOLUME ["/var/lib/regie"]
EXPOSE 8000

# Liveness only (/readyz also checks the database and the key backend). No curl in slim images.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('REGIE_PORT', '8000') + '/healthz', timeout=4)"]

ENTRYPOINT ["docker-entrypoint.sh"]
CMD []
