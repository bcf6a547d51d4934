-- The roles of a shared ukey-station database (docs/multi-station.md).
-- Run with psql as the schema's owner or a superuser, connected to the
-- station database, after the first station created the schema and again
-- after every upgrade that migrated it (it can be run any number of times):
--   psql "service=ukey-owner" -v ON_ERROR_STOP=1 -f pg-roles.sql
-- Stations log in as their own roles, members of ukey_station:
--   CREATE ROLE km01 LOGIN IN ROLE ukey_station;  \password km01

DO $$BEGIN
	IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ukey_station') THEN
		CREATE ROLE ukey_station NOLOGIN;
	END IF;
END$$;

-- Nobody but the owner creates anything; stations read and write rows.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
REVOKE ALL ON ALL TABLES IN SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO ukey_station;
GRANT SELECT ON ALL TABLES IN SCHEMA public TO ukey_station;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO ukey_station;

-- The working tables: what the store's statements do to each.
GRANT INSERT, UPDATE ON orders, order_revisions, deliveries, tokens, jobs,
	received_certs, issuances, dual_requests TO ukey_station;
GRANT INSERT, UPDATE, DELETE ON order_items, units, unit_leases, job_ca_txns TO ukey_station;
GRANT INSERT ON job_steps TO ukey_station;

-- The append-only record: INSERT and SELECT only. The triggers refuse
-- UPDATE and DELETE as well, but a grant is what a station's role cannot
-- get around (it cannot drop a trigger it does not own).
REVOKE UPDATE, DELETE, TRUNCATE ON audit, audit_checkpoints, audit_keys, token_states
	FROM ukey_station;
GRANT INSERT ON audit, audit_checkpoints, audit_keys, token_states TO ukey_station;

-- The schema versions: read only (a station refuses a newer schema).
REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON schema_migrations, station_schema_migrations
	FROM ukey_station;
