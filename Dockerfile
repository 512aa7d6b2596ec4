# Watchkeeper worker image. Build from the repository root: docker build -t watchkeeper .
FROM python:3.11-slim-bookworm
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    WATCHKEEPER_WEB_HOST=0.0.0.0 WATCHKEEPER_DATA_DIR=/var/lib/watchkeeper WATCHKEEPER_STORE=rocksdb://
RUN useradd --system --uid 10001 --home /var/lib/watchkeeper watchkeeper \
    && mkdir -p /var/lib/watchkeeper && chown watchkeeper /var/lib/watchkeeper
WORKDIR /opt/watchkeeper
COPY requirements.lock ./
# Exactly the versions the tests ran with, each checked against its hash (make lock writes it).
RUN pip install --require-hashes --no-deps -r requirements.lock
COPY pyproject.toml README.md ./
COPY streams streams
COPY agents agents
COPY alerts alerts
COPY reports reports
COPY worker worker
COPY watchkeeper watchkeeper
RUN pip install --no-deps .
USER watchkeeper
EXPOSE 6066
VOLUME ["/var/lib/watchkeeper"]
HEALTHCHECK --interval=30s --timeout=5s CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:6066/livez', timeout=4)"
ENTRYPOINT ["watchkeeper"]
CMD ["worker"]
