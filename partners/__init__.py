"""Who: the tenancy kernel and people. Tenants, users (global people), memberships (a person's role
in one tenant), partners, tiers, API keys and the channel managers' support activities; ``tenancy/``
holds the whole scoping mechanism (the fail-closed scoped manager, the request middleware that opens
a tenant's scope, ``tenant_task`` for Celery, ``get_for_tenant``, the tenant-scoped admin). The
bottom of the import graph: it imports no other context (``partners.deals`` sits beside it and
builds on it)."""
