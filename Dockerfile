# One image for every process of the engine: web (daphne), worker, beat and Flower.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first, so a code change does not reinstall them.
COPY requirements.txt .
RUN pip install -r requirements.txt

COPY . .

# No collectstatic: whitenoise serves admin and API docs assets from the installed packages.
RUN useradd --create-home --uid 1000 --user-group engine
USER engine

EXPOSE 8000
CMD ["daphne", "-b", "0.0.0.0", "-p", "8000", "engine.asgi:application"]
