"""Entry points and wiring: settings, the litestar app, the CLI and the Celery worker."""
