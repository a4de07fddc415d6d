"""What is offered and what was done with it: the catalog (trainings, documents, FAQs), learning
paths and assignments, the append-only activity log (``ActivityEvent``) and every way into it
(portal, REST ingest, xAPI), and the partner portal. The single definitions of "completed" per
asset kind (``completion``) and of the assigned (partner, asset) pairs (``pairs``) live here.
``enablement.lrs`` is the xAPI LRS. Imports ``partners`` only."""
