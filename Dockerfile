# The encore application image: every `encore ...` service of docker-compose.yml.
# Kafka and Redis come from their own images (apache/kafka, redis) in the compose file.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first (cached while only the code changes), pinned by constraints.txt.
COPY pyproject.toml constraints.txt README.md* ./
COPY producers ./producers
COPY stream_app ./stream_app
COPY models ./models
COPY api ./api
COPY cluster ./cluster
COPY cli ./cli
RUN pip install -c constraints.txt . \
 && useradd --system --uid 10001 --home-dir /app --no-create-home encore \
 && mkdir -p /app/.local && chown encore /app/.local

USER encore
# Files the services write (tokens, caches) go here; Kafka/Redis data do not.
ENV ENCORE_LOCAL_DIR=/app/.local

CMD ["encore", "--help"]
