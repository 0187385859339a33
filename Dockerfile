# syntax=docker/dockerfile:1
# TX-Ray Explorer: serve the dashboard with gunicorn, as a non-root user, from a read-only DB.
#
#   docker build -t txray-explorer .            # demo analysis; the build downloads the datasets
#   podman build --build-context data=/path/to/data -t txray-explorer .     # local datasets
#   podman build --build-arg ANALYSIS=db --build-context db=/dir/with/db -t txray-explorer .
#
# Build arguments
#   BASE_IMAGE       Python 3.11 on Debian bookworm. Default python:3.11-slim-bookworm; hosts that
#                    cannot pull from a registry: scripts/build_base_image.sh makes a local one.
#   ANALYSIS         demo: run `python -m precompute run --preset demo` in the build stage;
#                    db: copy DIR/analysis.duckdb from the `db` build context instead (no torch).
#   TORCH_INDEX_URL  where the CPU build of torch comes from when ./wheels is empty.
# Build contexts (optional, `--build-context NAME=DIR`, docker buildx or podman)
#   data  a data directory with wikitext-2/ and imdb/ (see precompute/corpora.py): no download.
#   db    a directory holding analysis.duckdb (with ANALYSIS=db).
# Wheels: when ./wheels holds *.whl files (scripts/build_wheels.sh), pip installs from there only
# (`--no-index`), for builds that cannot reach the package index.
#
# At run time the database is /data/analysis.duckdb when a volume provides it (or $TXRAY_DB),
# else the one built into the image. See README "Share with collaborators".

ARG BASE_IMAGE=python:3.11-slim-bookworm

# Defaults of the optional named build contexts; `--build-context data=DIR` / `db=DIR` replace them.
FROM scratch AS data
COPY requirements-app.txt /NO_DATA_CONTEXT
FROM scratch AS db
COPY requirements-app.txt /NO_DB_CONTEXT

FROM ${BASE_IMAGE} AS python
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    LANG=C.UTF-8

# What the pip installs read, and nothing else (so editing code does not re-run them): the
# requirement files and, when ./wheels exists, its wheels (the glob matches nothing otherwise).
FROM scratch AS pip-inputs
COPY requirements-app.txt requirements.txt wheel[s] /

# The dashboard's dependencies (requirements-app.txt only) in a virtual environment.
FROM python AS app-deps
RUN --mount=type=bind,from=pip-inputs,target=/pip \
    set -eu; \
    if ls /pip/*.whl >/dev/null 2>&1; then src="--no-index --find-links /pip"; else src=""; fi; \
    python3 -m venv /opt/venv; \
    /opt/venv/bin/pip install $src --requirement /pip/requirements-app.txt

# Build stage: precompute dependencies (torch CPU, spaCy) and the analysis database.
FROM app-deps AS analysis
ARG ANALYSIS=demo
ARG TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
RUN --mount=type=bind,from=pip-inputs,target=/pip \
    set -eu; \
    if [ "$ANALYSIS" = demo ]; then \
        if ls /pip/*.whl >/dev/null 2>&1; then \
            /opt/venv/bin/pip install --no-index --find-links /pip --requirement /pip/requirements.txt; \
        else \
            /opt/venv/bin/pip install --index-url "$TORCH_INDEX_URL" "$(grep -E '^torch==' /pip/requirements.txt)"; \
            /opt/venv/bin/pip install --requirement /pip/requirements.txt; \
        fi; \
    fi
COPY --from=data / /opt/txray-data/
COPY --from=db / /opt/txray-db/
COPY precompute/ /build/precompute/
WORKDIR /build
RUN set -eu; \
    mkdir -p /opt/txray; \
    case "$ANALYSIS" in \
    db) \
        if [ ! -f /opt/txray-db/analysis.duckdb ]; then \
            echo "error: ANALYSIS=db needs --build-context db=DIR where DIR holds analysis.duckdb" >&2; \
            exit 1; \
        fi; \
        cp /opt/txray-db/analysis.duckdb /opt/txray/analysis.duckdb ;; \
    demo) \
        if [ -d /opt/txray-data/wikitext-2 ]; then export TXRAY_DATA_DIR=/opt/txray-data; fi; \
        TXRAY_CACHE_DIR=/tmp/txray-cache /opt/venv/bin/python -m precompute run --preset demo \
            --out /opt/txray/analysis.duckdb; \
        rm -rf /tmp/txray-cache ;; \
    *) \
        echo "error: ANALYSIS must be demo or db, got '$ANALYSIS'" >&2; exit 1 ;; \
    esac

# The final venv: no pip, no test suites of the dependencies.
FROM app-deps AS app-venv
RUN set -eu; \
    /opt/venv/bin/pip uninstall --yes --quiet pip setuptools 2>/dev/null || true; \
    find /opt/venv/lib -depth -type d -name tests -path '*/site-packages/*' -exec rm -rf {} +

# Final stage: the dashboard only (no torch, no training data), served by gunicorn.
FROM python AS runtime
RUN useradd --uid 10001 --user-group --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin txray \
    && mkdir -p /data
COPY --from=app-venv /opt/venv /opt/venv
COPY --from=analysis /opt/txray/analysis.duckdb /opt/txray/analysis.duckdb
COPY assets/ /app/assets/
COPY txray_dash/ /app/txray_dash/
COPY wsgi.py /app/wsgi.py
RUN /opt/venv/bin/python -m compileall -q /app >/dev/null
WORKDIR /app
ENV PATH=/opt/venv/bin:$PATH \
    TXRAY_BUILTIN_DB=/opt/txray/analysis.duckdb \
    TXRAY_BIND_HOST=0.0.0.0 \
    TXRAY_PORT=8050 \
    TXRAY_WORKERS=3 \
    TXRAY_TIMEOUT=120
USER txray
EXPOSE 8050
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ['TXRAY_PORT'], timeout=4)" || exit 1
# --preload: the app is imported once and shared by the forked workers (less memory); each worker
# opens its own read-only DuckDB connection. Extra gunicorn flags: GUNICORN_CMD_ARGS.
CMD ["sh", "-c", "exec gunicorn --bind \"$TXRAY_BIND_HOST:$TXRAY_PORT\" --workers \"$TXRAY_WORKERS\" --timeout \"$TXRAY_TIMEOUT\" --preload --no-control-socket --worker-tmp-dir /tmp --access-logfile - 'wsgi:create_server()'"]
