# Shien PRM application image: one image for web (gunicorn), worker and beat.
FROM python:3.13-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=prm.settings_production
WORKDIR /app

RUN apt-get update && apt-get install -y --no-install-recommends gettext && rm -rf /var/lib/apt/lists/* \
    && useradd --create-home --uid 1000 shien

# Dependencies first (cached layer); the project itself is not a package (setuptools packages = []).
COPY pyproject.toml ./
RUN pip install --no-cache-dir .
COPY . .
RUN SECRET_KEY=build-only ALLOWED_HOSTS=localhost SITE_URL=https://localhost python manage.py collectstatic --no-input \
    && mkdir -p /app/media && chown -R shien /app/media

USER shien
EXPOSE 8000
CMD ["gunicorn", "prm.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
