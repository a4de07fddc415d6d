"""Writes of the partners app: keyword-only ``<entity>_<action>(*, tenant, ..., actor)`` under
``@transaction.atomic``. Several features add services here: append, do not rewrite."""

from __future__ import annotations
