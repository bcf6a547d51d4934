/* The whole of ukeyd's state, owned by the event loop (main.c). Only the
 * loop and the I/O it polls see it: main.c, control.c (the clients),
 * detect.c (the sources and their event ring), auditwitness.c (the
 * witness sinks), watch.c (the subscribed clients), crl.c (the CRL
 * timer) and station.c (the accessors). Every other module gets what it needs through station.h. */
#ifndef UKEY_STATION_IMPL_H
#define UKEY_STATION_IMPL_H

#include <stdint.h>

#include <openssl/evp.h>

#include "ca/ca.h"
#include "ca/certprof.h"
#include "common/config.h"
#include "common/seal.h"
#include "detect/profile.h"
#include "store/store.h"
#include "store/witness.h"
#include "station/bay.h"
#include "station/cathread.h"
#include "station/control.h"
#include "station/sources.h"
#include "station/storewatch.h"
#include "station/threadjob.h"

struct station {
	char state_dir[512];
	char sock_path[600];
	struct station_config cfg;
	struct store *st;
	struct storewatch sw;		/* is the store answering (joblease.c) */
	int64_t next_lease_ms;		/* when leases are renewed next (joblease.c) */
	struct ca *ca;
	char *ca_hex;			/* the CA certificate's DER, hex (station_ca_open) */
	struct cathread *cathread;	/* runs the CA calls that may wait (cathread.c) */
	struct threadjobs *offloop;	/* audit.verify, reports: off the loop (threadjob.c) */
	struct fw_profile_set *fw;
	struct certprof_set *cp;
	uint8_t master_key[SEAL_KEY_LEN];
	EVP_PKEY *audit_key;		/* signs audit checkpoints (keys/audit.key) */
	int audit_dirty;		/* records appended since the last checkpoint check */
	struct witness_sink *witness[CONFIG_MAX_WITNESSES];	/* [audit] witness, owned */
	size_t n_witness;
	int64_t next_head_ms;		/* when the head is witnessed next */
	int64_t next_crl_ms;		/* when the CRL is signed again (crl.c) */
	uint64_t crl_revocations;	/* ca_revocations() at the last CRL signed */
	struct crl_cache *crl_cache;	/* the CRL ca.crl serves, parsed (crl.c) */
	struct crljob *crl_job;		/* the CRL being signed in a thread, or NULL */
	struct crljob *crl_read;	/* a CRL file being read in a thread, or NULL */
	struct report_kept *reports_kept;	/* reports kept for their pages (reportspool.c) */
	struct crl_waiter *crl_queued;	/* who waits for the CRL after it (crl.c) */
	int crl_due;			/* a CRL is asked for and not begun yet */
	struct bay bays[MAX_BAYS];
	int n_bays;
	int listen_fd;
	struct client clients[MAX_CLIENTS];
	int n_clients;
	int stop;
	int64_t next_client_id;
	const struct dual_actors *dual;	/* set while a confirmed request's command runs */

	/* detection */
	const struct detect_source_ops *src_ops[MAX_SOURCES];
	struct detect_source *src[MAX_SOURCES];
	char src_status[MAX_SOURCES][256];	/* "running" or why not */
	int n_sources;
	struct station_event events[EVENT_RING];
	int64_t next_event_seq;
};

#endif
