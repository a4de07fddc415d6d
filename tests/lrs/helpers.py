"""Small builders shared by the LRS tests."""

from __future__ import annotations

import json
from urllib.parse import urlencode

BASE = "/api/xapi/"
ADL = "http://adlnet.gov/expapi/verbs/"
ACTIVITY = "http://www.example.com/activities/course-1"
AGENT = {"objectType": "Agent", "mbox": "mailto:hanako@example.com", "name": "Hanako"}


def q(path: str, **params) -> str:
    encoded = {k: json.dumps(v) if isinstance(v, dict) else v for k, v in params.items()}
    return BASE + path + ("?" + urlencode(encoded) if encoded else "")


def statement(verb: str = ADL + "experienced", activity: str = ACTIVITY, actor=None, **extra):
    s = {
        "actor": actor or AGENT,
        "verb": {"id": verb, "display": {"en-US": verb.rsplit("/", 1)[-1]}},
        "object": {"objectType": "Activity", "id": activity},
    }
    s.update(extra)
    return s
