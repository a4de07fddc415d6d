"""Send event batches to the ingest API from several threads at once (released together by a barrier)."""

from __future__ import annotations

import threading

from django.db import connections
from rest_framework.test import APIClient


def post_concurrently(url: str, raw_key: str, batches: list[dict]) -> list[tuple[int, dict]]:
    """POST each batch from its own thread and connection; ``[(status, body)]``; re-raises nothing
    silently: any exception in a thread fails the calling test."""
    barrier = threading.Barrier(len(batches))
    answers: list[tuple[int, dict]] = []
    errors: list[BaseException] = []

    def send(batch) -> None:
        try:
            client = APIClient()
            client.credentials(HTTP_AUTHORIZATION=f"Api-Key {raw_key}")
            barrier.wait(timeout=20)
            r = client.post(url, batch, format="json")
            answers.append((r.status_code, r.json()))
        except BaseException as exc:  # noqa: BLE001 (reported below)
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=send, args=(b,)) for b in batches]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    return answers
