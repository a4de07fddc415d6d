"""Deal registration: partners register opportunities in the portal (or they arrive by API and CSV
import), channel managers approve or reject them, and won / lost outcomes feed the success patterns.
Owns the ``Deal`` model (app label ``deals``; the table keeps its old name ``partners_deal``), its
services (registration, upsert by external id, the stage workflow), the CSV import, the portal and
manage pages and the deal API. It builds on ``partners`` and nothing above it."""
