"""Settings every `gunicorn wsgi:app` started from the project root reads (`make run`, bench/portal.py);
the command line gives workers, threads and the address."""


def post_worker_init(worker) -> None:
    """Before a worker takes requests: fit the positioning models, which the first probe of an untracked
    phone would otherwise wait for (a second or more for a large venue)."""
    services = getattr(worker.wsgi, "extensions", {}).get("mallportal")
    if services is not None:
        services.warm_up()
