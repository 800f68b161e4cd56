# rollbot's image: `docker build -t rollbot .`, then see the README ("From the Slack app to
# the first digest") for `docker run`. CI cannot build images here; it lints this file with
# hadolint and tests/test_wheel_install.py runs the install step below outside Docker.

# The wheel is built from the same files a checkout has (templates/ and config/ become its
# package data, see setup.py), so the image carries no source tree.
FROM python:3.11-slim AS builder
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY bot ./bot
COPY templates ./templates
COPY config ./config
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM python:3.11-slim
# State on the volume /data: the SQLite file here (DATABASE_URL=postgresql://... for
# PostgreSQL), and the config as /data/config/rollbot.yaml (the working directory's
# config/), else the packaged example config and plan; ROLLBOT_CONFIG names another file.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_URL=sqlite:////data/rollbot.db
COPY --from=builder /wheels /wheels
# A non-editable install of the wheel and its dependencies; then the user rollbot runs as,
# owning the volume's folder so a fresh named volume is writable.
RUN pip install --no-cache-dir /wheels/*.whl \
    && rm -rf /wheels \
    && groupadd --system --gid 10001 rollbot \
    && useradd --system --uid 10001 --gid 10001 --home-dir /data --shell /usr/sbin/nologin rollbot \
    && mkdir -p /data \
    && chown rollbot:rollbot /data
WORKDIR /data
VOLUME ["/data"]
# Numeric, so that a cluster enforcing runAsNonRoot can tell it is not root.
USER 10001:10001
EXPOSE 3000
# slim has no curl: Python asks /healthz, which answers 200 while rollbot is healthy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:3000/healthz', timeout=4)"]
CMD ["rollbot", "serve", "--host", "0.0.0.0"]
