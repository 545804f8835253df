# The Kling video bot. Build: docker build -t kling-video-bot .
# Run:   docker run -d --env-file .env -v kling-bot-data:/app/data kling-video-bot
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DATABASE_PATH=/app/data/bot.sqlite3

WORKDIR /app

# Dependencies first: this layer is rebuilt only when requirements.txt changes. FFmpeg (with
# libx264 and AAC) comes inside the imageio-ffmpeg and av wheels: no system package is needed.
COPY requirements.txt .
RUN pip install -r requirements.txt

RUN useradd --create-home --uid 10001 bot \
    && mkdir -p /app/data \
    && chown bot:bot /app/data

COPY bot.py config.py healthcheck.py ./
COPY videojobs/ videojobs/
COPY gateway/ gateway/
COPY storage/ storage/
COPY cogs/ cogs/
COPY observability/ observability/
COPY media/ media/

USER bot
VOLUME ["/app/data"]

# Healthy = connected to Discord and the poller ran a pass recently (see healthcheck.py).
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "healthcheck.py"]

CMD ["python", "bot.py"]
