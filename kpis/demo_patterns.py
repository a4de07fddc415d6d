"""Demo data step (see partners/management/commands/seed_demo.py). Returns True when it added data."""


def seed(tenant, *, log=print) -> bool:
    return False
