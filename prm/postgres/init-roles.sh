#!/bin/bash
# First start of the compose PostgreSQL (docker-entrypoint-initdb.d): the two roles of Shien.
#   shien_owner — owns the database and its tables; runs the migrations (the `migrate` job).
#   shien_app   — what web, worker and beat connect as: neither owner nor superuser, so the
#                 forced row-level security policies apply to every query (partners/tenancy/rls.py);
#                 after `migrate` it may only SELECT and INSERT on the append-only tables.
# POSTGRES_USER (the container's superuser) is used for nothing else.
set -euo pipefail
: "${SHIEN_OWNER_PASSWORD:?}" "${SHIEN_APP_PASSWORD:?}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
  -v owner_pw="$SHIEN_OWNER_PASSWORD" -v app_pw="$SHIEN_APP_PASSWORD" <<'SQL'
CREATE ROLE shien_owner LOGIN NOSUPERUSER NOCREATEROLE PASSWORD :'owner_pw';
CREATE ROLE shien_app LOGIN NOSUPERUSER NOCREATEROLE NOCREATEDB PASSWORD :'app_pw';
ALTER DATABASE :"DBNAME" OWNER TO shien_owner;
ALTER SCHEMA public OWNER TO shien_owner;
GRANT USAGE ON SCHEMA public TO shien_app;
ALTER DEFAULT PRIVILEGES FOR ROLE shien_owner IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO shien_app;
ALTER DEFAULT PRIVILEGES FOR ROLE shien_owner IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO shien_app;
SQL
