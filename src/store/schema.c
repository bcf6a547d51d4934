/* Schema migrations: an ordered list of SQL scripts; store_open applies the
 * ones newer than schema_migrations' highest version, each in a transaction. */
#include <stddef.h>

#include "store/schema.h"

static const char migration_1[] =
    "CREATE TABLE orders ("
    " id INTEGER PRIMARY KEY,"
    " portal_ref TEXT NOT NULL UNIQUE,"
    " type TEXT NOT NULL CHECK (type IN ('new','renewal')),"
    " account_uscc TEXT NOT NULL,"
    " org_name TEXT,"
    " state TEXT NOT NULL CHECK (state IN ('pending','approved','rejected','waiting_production',"
    "   'in_production','issued','delivered','cancelled')),"
    " total_fen INTEGER NOT NULL CHECK (total_fen >= 0),"
    " payment_no TEXT UNIQUE,"
    " doc TEXT NOT NULL,"
    " checksum_failures TEXT,"
    " override_reason TEXT, override_by TEXT,"
    " review_remark TEXT, reviewer TEXT, reviewed_at TEXT,"
    " paid_at TEXT, paid_by TEXT,"
    " created_at TEXT NOT NULL, created_by TEXT NOT NULL, updated_at TEXT NOT NULL);"
    "CREATE TABLE order_items ("
    " id INTEGER PRIMARY KEY,"
    " order_id INTEGER NOT NULL REFERENCES orders(id),"
    " seq INTEGER NOT NULL,"
    " kind TEXT NOT NULL CHECK (kind IN ('organisation','legal_rep','entrusted')),"
    " name TEXT NOT NULL,"
    " cert_profile TEXT NOT NULL,"
    " years INTEGER NOT NULL CHECK (years > 0),"
    " count INTEGER NOT NULL CHECK (count > 0),"
    " UNIQUE (order_id, seq));"
    "CREATE TABLE units ("
    " id INTEGER PRIMARY KEY,"
    " item_id INTEGER NOT NULL REFERENCES order_items(id),"
    " seq INTEGER NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN ('held','queued','in_production','issued','cancelled')),"
    " job_id INTEGER,"
    " updated_at TEXT NOT NULL,"
    " UNIQUE (item_id, seq));"
    "CREATE INDEX units_state ON units(state);"
    "CREATE TABLE tokens ("
    " id INTEGER PRIMARY KEY,"
    " profile TEXT NOT NULL,"
    " serial TEXT NOT NULL,"
    " model TEXT,"
    " manufacturer TEXT,"
    " label TEXT,"
    " so_pin_enc BLOB,"
    " first_seen TEXT NOT NULL, last_seen TEXT NOT NULL,"
    " UNIQUE (profile, serial));"
    "CREATE TABLE jobs ("
    " id INTEGER PRIMARY KEY,"
    " unit_id INTEGER NOT NULL REFERENCES units(id),"
    " bay TEXT NOT NULL,"
    " profile TEXT NOT NULL,"
    " token_id INTEGER REFERENCES tokens(id),"
    " token_serial TEXT,"
    " step TEXT NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN ('running','issued','failed','aborted')),"
    " key_id TEXT, key_alg TEXT, public_key BLOB, evidence TEXT,"
    " user_pin_enc BLOB, so_pin_enc BLOB, subject BLOB, label TEXT,"
    " csr BLOB, request_key TEXT, cert_serial TEXT, cert BLOB,"
    " error TEXT, operator TEXT NOT NULL,"
    " started_at TEXT NOT NULL, updated_at TEXT NOT NULL, finished_at TEXT);"
    "CREATE INDEX jobs_state ON jobs(state);"
    "CREATE TABLE job_steps ("
    " id INTEGER PRIMARY KEY,"
    " job_id INTEGER NOT NULL REFERENCES jobs(id),"
    " step TEXT NOT NULL,"
    " phase TEXT NOT NULL CHECK (phase IN ('begin','done','failed')),"
    " at TEXT NOT NULL, detail TEXT);"
    "CREATE TABLE received_certs ("
    " serial TEXT PRIMARY KEY,"
    " job_id INTEGER NOT NULL REFERENCES jobs(id),"
    " unit_id INTEGER NOT NULL REFERENCES units(id),"
    " der BLOB NOT NULL,"
    " status TEXT NOT NULL CHECK (status IN ('received','issued','refused','revoked')),"
    " note TEXT,"
    " received_at TEXT NOT NULL, updated_at TEXT NOT NULL);"
    "CREATE TABLE issuances ("
    " id INTEGER PRIMARY KEY,"
    " order_id INTEGER NOT NULL REFERENCES orders(id),"
    " item_id INTEGER NOT NULL REFERENCES order_items(id),"
    " unit_id INTEGER NOT NULL UNIQUE REFERENCES units(id),"
    " job_id INTEGER NOT NULL REFERENCES jobs(id),"
    " cert_serial TEXT NOT NULL UNIQUE REFERENCES received_certs(serial),"
    " subject TEXT NOT NULL,"
    " issuer TEXT NOT NULL,"
    " not_before TEXT NOT NULL, not_after TEXT NOT NULL,"
    " key_alg TEXT NOT NULL,"
    " key_local INTEGER NOT NULL, key_always_sensitive INTEGER NOT NULL,"
    " key_never_extractable INTEGER NOT NULL,"
    " token_serial TEXT NOT NULL, token_model TEXT NOT NULL, token_profile TEXT NOT NULL,"
    " token_uri TEXT,"
    " org_uscc TEXT NOT NULL, kind TEXT NOT NULL,"
    " cert BLOB NOT NULL,"
    " operator TEXT NOT NULL, station_id TEXT NOT NULL,"
    " started_at TEXT NOT NULL, issued_at TEXT NOT NULL);"
    "CREATE TABLE audit ("
    " id INTEGER PRIMARY KEY,"
    " at TEXT NOT NULL,"
    " actor TEXT NOT NULL,"
    " action TEXT NOT NULL,"
    " order_id INTEGER, unit_id INTEGER, job_id INTEGER,"
    " token TEXT, bay TEXT,"
    " detail TEXT,"
    " prev_hash TEXT NOT NULL,"
    " hash TEXT NOT NULL);";

/* Jobs can wait for their token: 'suspended' (the token left, or the station
 * stopped, in the middle of the job; the same token resumes it). SQLite
 * cannot change a CHECK constraint in place, so the table is rebuilt (with
 * foreign keys off; the references are checked before commit). */
static const char migration_2[] =
    "CREATE TABLE jobs_v2 ("
    " id INTEGER PRIMARY KEY,"
    " unit_id INTEGER NOT NULL REFERENCES units(id),"
    " bay TEXT NOT NULL,"
    " profile TEXT NOT NULL,"
    " token_id INTEGER REFERENCES tokens(id),"
    " token_serial TEXT,"
    " step TEXT NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN ('running','suspended','issued','failed','aborted')),"
    " key_id TEXT, key_alg TEXT, public_key BLOB, evidence TEXT,"
    " user_pin_enc BLOB, so_pin_enc BLOB, subject BLOB, label TEXT,"
    " csr BLOB, request_key TEXT, cert_serial TEXT, cert BLOB,"
    " error TEXT, operator TEXT NOT NULL,"
    " started_at TEXT NOT NULL, updated_at TEXT NOT NULL, finished_at TEXT,"
    " resumed INTEGER NOT NULL DEFAULT 0);"
    "INSERT INTO jobs_v2 (id, unit_id, bay, profile, token_id, token_serial, step, state, key_id,"
    " key_alg, public_key, evidence, user_pin_enc, so_pin_enc, subject, label, csr, request_key,"
    " cert_serial, cert, error, operator, started_at, updated_at, finished_at)"
    " SELECT id, unit_id, bay, profile, token_id, token_serial, step, state, key_id,"
    " key_alg, public_key, evidence, user_pin_enc, so_pin_enc, subject, label, csr, request_key,"
    " cert_serial, cert, error, operator, started_at, updated_at, finished_at FROM jobs;"
    "DROP TABLE jobs;"
    "ALTER TABLE jobs_v2 RENAME TO jobs;"
    "CREATE INDEX jobs_state ON jobs(state);"
    "CREATE INDEX jobs_token ON jobs(profile, token_serial);";

/* The order lifecycle after production starts and around review: edited
 * content of rejected orders kept as revisions, the certificate a renewal
 * order renews (resolved at approval), cancellation with the refund it may
 * owe, the invoice request and the key delivery (docs/orders-lifecycle.md). */
static const char migration_3[] =
    "ALTER TABLE orders ADD COLUMN revision INTEGER NOT NULL DEFAULT 1;"
    "ALTER TABLE orders ADD COLUMN renews_cert TEXT;"
    "ALTER TABLE orders ADD COLUMN cancel_remark TEXT;"
    "ALTER TABLE orders ADD COLUMN cancelled_at TEXT;"
    "ALTER TABLE orders ADD COLUMN cancelled_by TEXT;"
    "ALTER TABLE orders ADD COLUMN refund_due INTEGER NOT NULL DEFAULT 0"
    " CHECK (refund_due IN (0, 1));"
    "ALTER TABLE orders ADD COLUMN invoice_requested_at TEXT;"
    "ALTER TABLE orders ADD COLUMN invoice_requested_by TEXT;"
    "CREATE INDEX orders_created ON orders(created_at);"
    "CREATE INDEX orders_renews ON orders(renews_cert);"
    "CREATE INDEX issuances_token ON issuances(token_profile, token_serial);"
    "CREATE TABLE order_revisions ("
    " id INTEGER PRIMARY KEY,"
    " order_id INTEGER NOT NULL REFERENCES orders(id),"
    " revision INTEGER NOT NULL,"
    " type TEXT NOT NULL,"
    " org_name TEXT,"
    " total_fen INTEGER NOT NULL,"
    " doc TEXT NOT NULL,"
    " checksum_failures TEXT,"
    " review_remark TEXT,"
    " replaced_at TEXT NOT NULL, replaced_by TEXT NOT NULL,"
    " UNIQUE (order_id, revision));"
    "CREATE TABLE deliveries ("
    " order_id INTEGER PRIMARY KEY REFERENCES orders(id),"
    " method TEXT NOT NULL CHECK (method IN ('pickup','mail')),"
    " picked_up_by TEXT, carrier TEXT, tracking_no TEXT,"
    " delivered_at TEXT NOT NULL, delivered_by TEXT NOT NULL,"
    " CHECK ((method = 'pickup' AND picked_up_by IS NOT NULL AND carrier IS NULL"
    "   AND tracking_no IS NULL) OR (method = 'mail' AND picked_up_by IS NULL"
    "   AND carrier IS NOT NULL AND tracking_no IS NOT NULL)));";

/* The audit log gets signed checkpoints and a record format number: rows
 * written from here on hash a typed canonical form (format 2, docs/audit.md);
 * older rows keep format 1 and verify as they were written. Audit rows and
 * checkpoints are append-only: the triggers refuse UPDATE and DELETE. */
static const char migration_4[] =
    "ALTER TABLE audit ADD COLUMN format INTEGER NOT NULL DEFAULT 1;"
    "CREATE TABLE audit_checkpoints ("
    " id INTEGER PRIMARY KEY,"
    " audit_id INTEGER NOT NULL UNIQUE,"
    " audit_hash TEXT NOT NULL,"
    " records INTEGER NOT NULL,"
    " at TEXT NOT NULL,"
    " station TEXT NOT NULL,"
    " key_id TEXT NOT NULL,"
    " alg TEXT NOT NULL,"
    " signature TEXT NOT NULL);"
    "CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;"
    "CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit"
    " BEGIN SELECT RAISE(ABORT, 'audit rows are append-only'); END;"
    "CREATE TRIGGER audit_checkpoints_no_update BEFORE UPDATE ON audit_checkpoints"
    " BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;"
    "CREATE TRIGGER audit_checkpoints_no_delete BEFORE DELETE ON audit_checkpoints"
    " BEGIN SELECT RAISE(ABORT, 'audit checkpoints are append-only'); END;";

/* Orders keep their document whole only sealed under the station master key
 * (doc_sealed); doc keeps it with ID numbers masked. ukeyd seals the rows of
 * an older database at start (src/station/orderdoc.c), since SQL cannot. */
static const char migration_5[] =
    "ALTER TABLE orders ADD COLUMN doc_sealed BLOB;"
    "ALTER TABLE order_revisions ADD COLUMN doc_sealed BLOB;";

/* Units that fail: the failures a unit's jobs counted against it (a token's
 * own faults count none), the last one's reason and kind ("<step>:<error>"),
 * why and when a unit is held, and its place at the tail of the queue after
 * a failure (requeued_at, with requeue_seq ordering requeues within one
 * second; docs/jobs.md). */
static const char migration_6[] =
    "ALTER TABLE units ADD COLUMN failures INTEGER NOT NULL DEFAULT 0 CHECK (failures >= 0);"
    "ALTER TABLE units ADD COLUMN failure_kind TEXT;"
    "ALTER TABLE units ADD COLUMN last_failure TEXT;"
    "ALTER TABLE units ADD COLUMN hold_reason TEXT;"
    "ALTER TABLE units ADD COLUMN held_at TEXT;"
    "ALTER TABLE units ADD COLUMN requeued_at TEXT;"
    "ALTER TABLE units ADD COLUMN requeue_seq INTEGER;";

/* Dual control (docs/config.md [dual_control]): an SO-level command held for
 * a second user's confirmation. args is the command's arguments as JSON,
 * never a PIN or other secret; subject is what the command acts on as the
 * station saw it at the request (a bay and its token, an order and its
 * state), compared again at the confirmation. */
static const char migration_7[] =
    "CREATE TABLE dual_requests ("
    " id INTEGER PRIMARY KEY,"
    " action TEXT NOT NULL,"
    " command TEXT NOT NULL,"
    " args TEXT NOT NULL,"
    " subject TEXT NOT NULL,"
    " requested_by TEXT NOT NULL,"
    " requested_uid INTEGER NOT NULL,"
    " requester_roles TEXT NOT NULL,"
    " requested_at TEXT NOT NULL,"
    " expires_at TEXT NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN ('pending','confirmed','expired','refused',"
    "   'cancelled')),"
    " confirmed_by TEXT, confirmed_at TEXT, remark TEXT,"
    " closed_by TEXT, closed_at TEXT, close_reason TEXT);"
    "CREATE INDEX dual_requests_state ON dual_requests(state, expires_at);";

/* The issuance record keeps what the token's key pair may do, as read back
 * from it (the usage attributes of both halves, JSON), beside the
 * key-protection evidence. Rows from before stay NULL: not recorded. */
static const char migration_8[] =
    "ALTER TABLE issuances ADD COLUMN key_usage TEXT;";

/* Revocation (ukeyctl cert revoke, docs/ca.md): when, why (the RFC 5280
 * reason name), who and their remark. NULL while the certificate is live. */
static const char migration_9[] =
    "ALTER TABLE issuances ADD COLUMN revoked_at TEXT;"
    "ALTER TABLE issuances ADD COLUMN revoke_reason TEXT;"
    "ALTER TABLE issuances ADD COLUMN revoked_by TEXT;"
    "ALTER TABLE issuances ADD COLUMN revoke_remark TEXT;"
    "CREATE INDEX issuances_not_after ON issuances(not_after);";

/* The physical token's recorded states (docs/lifecycle.md): who marked a
 * token lost, damaged, destroyed, returned or back in stock, when and why.
 * Append-only, as the audit log is. */
static const char migration_10[] =
    "CREATE TABLE token_states ("
    " id INTEGER PRIMARY KEY,"
    " token_serial TEXT NOT NULL,"
    " state TEXT NOT NULL CHECK (state IN"
    "  ('in-stock','lost','damaged','destroyed','returned')),"
    " at TEXT NOT NULL, actor TEXT NOT NULL, remark TEXT NOT NULL);"
    "CREATE INDEX token_states_serial ON token_states(token_serial, id);"
    "CREATE INDEX issuances_token_serial ON issuances(token_serial);"
    "CREATE TRIGGER token_states_no_update BEFORE UPDATE ON token_states"
    " BEGIN SELECT RAISE(ABORT, 'token_states is append-only'); END;"
    "CREATE TRIGGER token_states_no_delete BEFORE DELETE ON token_states"
    " BEGIN SELECT RAISE(ABORT, 'token_states is append-only'); END;";

/* Renewal jobs (docs/jobs.md, "Renewal"): a job is an issuance on a blank
 * token or the renewal of the certificate a returned token holds; a renewal
 * knows the certificate it replaces and, once the token showed it, that
 * certificate's CKA_ID. */
static const char migration_11[] =
    "ALTER TABLE jobs ADD COLUMN kind TEXT NOT NULL DEFAULT 'issue'"
    " CHECK (kind IN ('issue','renew'));"
    "ALTER TABLE jobs ADD COLUMN renews_serial TEXT;"
    "ALTER TABLE jobs ADD COLUMN old_key_id TEXT;";

/* The link between certificates (docs/lifecycle.md): an issuance names the
 * certificate it replaces and how ('renewal': rekeyed on the same token;
 * 'replacement': 补办, a new token for a lost or damaged one); NULL for a
 * new issuance. Orders gain the type 'replacement' and the certificate such
 * an order replaces, resolved at approval (replaces_cert). SQLite cannot
 * widen the type CHECK in place, so orders is rebuilt as migration 2 rebuilt
 * jobs. The rebuild names every column orders has after migrations 1-10: a
 * migration that adds one must add it here too, and the count check below
 * (a CHECK that fails the migration) refuses to drop one silently.
 * Migration 11 is the renewal job's; this one does not need it applied. */
static const char migration_12[] =
    "ALTER TABLE issuances ADD COLUMN replaces_serial TEXT;"
    "ALTER TABLE issuances ADD COLUMN replaces_how TEXT"
    " CHECK (replaces_how IN ('renewal','replacement'));"
    "CREATE INDEX issuances_replaces ON issuances(replaces_serial);"
    "CREATE TEMP TABLE m12_orders_columns (n INTEGER NOT NULL CHECK (n = 29));"
    "INSERT INTO m12_orders_columns SELECT count(*) FROM pragma_table_info('orders');"
    "DROP TABLE m12_orders_columns;"
    "CREATE TABLE orders_v12 ("
    " id INTEGER PRIMARY KEY,"
    " portal_ref TEXT NOT NULL UNIQUE,"
    " type TEXT NOT NULL CHECK (type IN ('new','renewal','replacement')),"
    " account_uscc TEXT NOT NULL,"
    " org_name TEXT,"
    " state TEXT NOT NULL CHECK (state IN ('pending','approved','rejected','waiting_production',"
    "   'in_production','issued','delivered','cancelled')),"
    " total_fen INTEGER NOT NULL CHECK (total_fen >= 0),"
    " payment_no TEXT UNIQUE,"
    " doc TEXT NOT NULL,"
    " checksum_failures TEXT,"
    " override_reason TEXT, override_by TEXT,"
    " review_remark TEXT, reviewer TEXT, reviewed_at TEXT,"
    " paid_at TEXT, paid_by TEXT,"
    " created_at TEXT NOT NULL, created_by TEXT NOT NULL, updated_at TEXT NOT NULL,"
    " revision INTEGER NOT NULL DEFAULT 1,"
    " renews_cert TEXT,"
    " cancel_remark TEXT, cancelled_at TEXT, cancelled_by TEXT,"
    " refund_due INTEGER NOT NULL DEFAULT 0 CHECK (refund_due IN (0, 1)),"
    " invoice_requested_at TEXT, invoice_requested_by TEXT,"
    " doc_sealed BLOB,"
    " replaces_cert TEXT);"
    "INSERT INTO orders_v12 (id, portal_ref, type, account_uscc, org_name, state, total_fen,"
    " payment_no, doc, checksum_failures, override_reason, override_by, review_remark,"
    " reviewer, reviewed_at, paid_at, paid_by, created_at, created_by, updated_at, revision,"
    " renews_cert, cancel_remark, cancelled_at, cancelled_by, refund_due, invoice_requested_at,"
    " invoice_requested_by, doc_sealed)"
    " SELECT id, portal_ref, type, account_uscc, org_name, state, total_fen,"
    " payment_no, doc, checksum_failures, override_reason, override_by, review_remark,"
    " reviewer, reviewed_at, paid_at, paid_by, created_at, created_by, updated_at, revision,"
    " renews_cert, cancel_remark, cancelled_at, cancelled_by, refund_due, invoice_requested_at,"
    " invoice_requested_by, doc_sealed FROM orders;"
    "DROP TABLE orders;"
    "ALTER TABLE orders_v12 RENAME TO orders;"
    "CREATE INDEX orders_created ON orders(created_at);"
    "CREATE INDEX orders_renews ON orders(renews_cert);"
    "CREATE INDEX orders_replaces ON orders(replaces_cert);";

/* A job's CA transaction (docs/ca.md): its transactionID, stored before the
 * request is sent, and once the CA holds the request (CMP PKIStatus
 * waiting) the CA's nonce to poll with; kept across restarts; one row per
 * job at most, gone once the CA answered with a certificate or a refusal. */
static const char migration_13[] =
    "CREATE TABLE job_ca_txns ("
    " job_id INTEGER PRIMARY KEY REFERENCES jobs(id),"
    " transaction_id BLOB NOT NULL,"
    " ca_nonce BLOB,"
    " check_after INTEGER NOT NULL CHECK (check_after >= 0),"
    " waiting_since TEXT NOT NULL,"
    " polled_at TEXT NOT NULL,"
    " polls INTEGER NOT NULL DEFAULT 0);";

/* One hash chain per station (docs/audit.md, record format 3): each row
 * names its station and its place in that station's chain (seq, gap-free);
 * rows from before keep station and seq NULL and verify as they were.
 * Checkpoints get the station's own count (seq); the stations' checkpoint
 * public keys are registered, append-only. */
static const char migration_14[] =
    "ALTER TABLE audit ADD COLUMN station TEXT;"
    "ALTER TABLE audit ADD COLUMN seq INTEGER;"
    "CREATE UNIQUE INDEX audit_station_seq ON audit(station, seq);"
    "ALTER TABLE audit_checkpoints ADD COLUMN seq INTEGER;"
    "CREATE UNIQUE INDEX audit_checkpoints_station_seq ON audit_checkpoints(station, seq);"
    "CREATE TABLE audit_keys ("
    " station TEXT NOT NULL,"
    " key_id TEXT NOT NULL,"
    " alg TEXT NOT NULL,"
    " pubkey TEXT NOT NULL,"
    " at TEXT NOT NULL,"
    " PRIMARY KEY (station, key_id));"
    "CREATE TRIGGER audit_keys_no_update BEFORE UPDATE ON audit_keys"
    " BEGIN SELECT RAISE(ABORT, 'audit keys are append-only'); END;"
    "CREATE TRIGGER audit_keys_no_delete BEFORE DELETE ON audit_keys"
    " BEGIN SELECT RAISE(ABORT, 'audit keys are append-only'); END;";

/* Service points (docs/service-points.md): the office whose station
 * produces an order first, derived from the handler's city at import or
 * set by a reviewer; NULL for none (orders imported before). */
/* audit serials --org: an organisation's certificates by id, read
 * page by page without scanning the others' (docs/performance.md) */
static const char migration_15[] =
    "CREATE INDEX issuances_org ON issuances(org_uscc, id);";

static const char migration_16[] =
    "ALTER TABLE orders ADD COLUMN service_point TEXT;"
    "CREATE INDEX orders_service_point ON orders(service_point);";

/* The production queue's order (store_queue.h) kept on each unit, so that a
 * token's claim walks one index in queue order instead of sorting every
 * queued unit: the order's payment time, id and the item's place, copied
 * when the unit is inserted or its order is paid, and queue_at, the time
 * it stands in the queue by (its requeue time after a failure, else the
 * payment), kept by these triggers. A returning token's renewal is found
 * from its orders, and reaches their units by item and state. */
static const char migration_17[] =
    "ALTER TABLE units ADD COLUMN queue_at TEXT;"
    "ALTER TABLE units ADD COLUMN queue_paid_at TEXT;"
    "ALTER TABLE units ADD COLUMN queue_order INTEGER;"
    "ALTER TABLE units ADD COLUMN queue_item_seq INTEGER;"
    "UPDATE units SET queue_paid_at = o.paid_at, queue_order = o.id, queue_item_seq = i.seq,"
    " queue_at = coalesce(units.requeued_at, o.paid_at)"
    " FROM order_items i JOIN orders o ON o.id = i.order_id WHERE i.id = units.item_id;"
    "CREATE INDEX units_queue ON units(state, queue_at, requeue_seq, queue_paid_at, queue_order,"
    " queue_item_seq, seq);"
    "CREATE INDEX units_item_state ON units(item_id, state);"
    "CREATE TRIGGER units_queue_new AFTER INSERT ON units BEGIN"
    " UPDATE units SET queue_paid_at = o.paid_at, queue_order = o.id, queue_item_seq = i.seq,"
    "  queue_at = coalesce(NEW.requeued_at, o.paid_at)"
    "  FROM order_items i JOIN orders o ON o.id = i.order_id"
    "  WHERE units.id = NEW.id AND i.id = NEW.item_id; END;"
    "CREATE TRIGGER units_queue_requeued AFTER UPDATE OF requeued_at ON units BEGIN"
    " UPDATE units SET queue_at = coalesce(NEW.requeued_at, queue_paid_at) WHERE id = NEW.id;"
    " END;"
    "CREATE TRIGGER orders_queue_paid AFTER UPDATE OF paid_at ON orders BEGIN"
    " UPDATE units SET queue_paid_at = NEW.paid_at, queue_at = coalesce(requeued_at, NEW.paid_at)"
    " WHERE item_id IN (SELECT id FROM order_items WHERE order_id = NEW.id); END;";

/* A unit put back after a failure takes the next requeue number, max() + 1
 * over every unit: an index on the numbered ones makes that max() one
 * look-up instead of a scan of all units. */
static const char migration_18[] =
    "CREATE INDEX units_requeue_seq ON units(requeue_seq) WHERE requeue_seq IS NOT NULL;";

/* An item's queued units in queue order: a claim that starts from a few
 * orders (a service point's, a token's renewals) reads each item's first
 * units from this index instead of sorting them all; it serves every query
 * units_item_state served, which it replaces. */
static const char migration_19[] =
    "CREATE INDEX units_item_queue ON units(item_id, state, queue_at, requeue_seq,"
    " queue_paid_at, queue_order, queue_item_seq, seq);"
    "DROP INDEX units_item_state;";

static const struct migration migrations[] = {
	{ 1, "initial schema: orders, units, tokens, jobs, issuances, audit", migration_1 },
	{ 2, "jobs can be suspended while their token is away", migration_2 },
	{ 3, "order lifecycle: revisions, renewal target, cancellation, invoice, delivery",
	    migration_3 },
	{ 4, "audit: record format 2, signed checkpoints, append-only triggers", migration_4 },
	{ 5, "order documents: ID numbers masked in doc, the whole document sealed", migration_5 },
	{ 6, "units: failure count and kind, hold reason, place in the queue after a failure",
	    migration_6 },
	{ 7, "dual control: SO-level commands held for a second user's confirmation",
	    migration_7 },
	{ 8, "issuances: the key pair's usage attributes as read back", migration_8 },
	{ 9, "issuances: revocation time, reason, by whom and why", migration_9 },
	{ 10, "tokens: recorded states (lost, damaged, destroyed, returned, in stock)",
	    migration_10 },
	{ 11, "jobs: renewal of a returned token's certificate (kind, renewed serial, old key id)",
	    migration_11 },
	{ 12, "issuances: the certificate replaced (renewal or replacement); replacement orders",
	    migration_12 },
	{ 13, "jobs: the CA transaction a job polls while the CA holds its request",
	    migration_13 },
	{ 14, "audit: one hash chain per station (record format 3), registered checkpoint keys",
	    migration_14 },
	{ 15, "issuances: an index by organisation for audit serials --org", migration_15 },
	{ 16, "orders: the service point whose station produces them first", migration_16 },
	{ 17, "units: their place in the production queue, indexed", migration_17 },
	{ 18, "units: the requeue numbers indexed", migration_18 },
	{ 19, "units: an item's queued units indexed in queue order", migration_19 },
};

const struct migration *
schema_migrations(size_t *n)
{
	*n = sizeof(migrations) / sizeof(migrations[0]);
	return migrations;
}
