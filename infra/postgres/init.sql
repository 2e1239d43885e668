-- Lingkar's role and database on a PostgreSQL server you run yourself (a managed instance, or
-- the server beside a Kubernetes cluster). docker-compose.yml does not need this: the postgres
-- image creates the `lingkar` role and database from POSTGRES_USER / POSTGRES_DB.
--
-- Run it once as a superuser, passing the password on the command line (never store it here):
--   psql -h <host> -U postgres -v lingkar_password="$DB_PASSWORD" -f infra/postgres/init.sql
-- then set LINGKAR_DATABASE_URL=postgresql://lingkar:<password>@<host>:5432/lingkar.
--
-- The role owns the database, so each service can create its own schema (api, meetings,
-- notifications) when it migrates; no service reads another's schema.

\set ON_ERROR_STOP on

SELECT format('CREATE ROLE lingkar LOGIN PASSWORD %L', :'lingkar_password')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'lingkar')
\gexec

SELECT 'CREATE DATABASE lingkar OWNER lingkar ENCODING ''UTF8'' TEMPLATE template0'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'lingkar')
\gexec

\connect lingkar

-- Nothing of Lingkar's lives in `public`; keep other roles from creating objects there.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
