/*
 * admin.h: the server's metrics (what is counted, where in the table) and
 * the admin listener's one page, GET /metrics (docs/metrics.md lists every
 * metric).
 *
 * The counters live in one struct cg_metrics (core/metrics.h) made at start
 * and kept until exit: they belong to the process, so a reload (SIGHUP)
 * never resets them. Worker w writes shard w->idx; the few counters bumped
 * off the workers live in other modules (the verification cache, the
 * session cache, the revocation fetcher: cert/rev_stats.h) and are read
 * through their stats accessors at scrape time.
 *
 * Every label set is fixed: status classes, reason slugs (cert/reason.h and
 * http/errors.h rows with status 403 or 421), handshake failure kinds,
 * revocation sources and statuses. The one label taken from the config,
 * `site`, has admin.max_sites slots for the life of the process, given out
 * to site names as generations are built (a name keeps its slot across
 * reloads); a site beyond them is counted as site="(other)", a request that
 * reached no site as site="(none)". A scrape shows the sites of the current
 * configuration only.
 */
#ifndef CG_SERVER_ADMIN_H
#define CG_SERVER_ADMIN_H

#include <stddef.h>

#include "core/metrics.h"
#include "http/errors.h"

struct cg_server;
struct cg_gen;
struct cg_conf;

/* Why a TLS handshake failed. */
typedef enum {
    CG_HS_FAIL_NOT_TLS = 0,        /* the first byte was not a TLS handshake record */
    CG_HS_FAIL_TIMEOUT,            /* limits.handshake_timeout reached */
    CG_HS_FAIL_CLOSED,             /* closed or reset by the client, no alert */
    CG_HS_FAIL_CLIENT_ALERT,       /* the client sent a fatal alert (it refused us) */
    CG_HS_FAIL_PROTOCOL,           /* we sent a fatal alert: version, cipher, malformed, ... */
    CG_HS_FAIL_CERT_VERIFY,        /* the client certificate's CertificateVerify failed */
    CG_HS_FAIL__COUNT
} cg_hs_fail_t;

/* Status classes 1xx..5xx. */
#define CG_M_CLASSES 5
/* Revocation answers: sources (cg_rev_source_t) x statuses (cg_rev_status_t). */
#define CG_M_REV_SOURCES 4
#define CG_M_REV_STATUSES 3

/* Indexes in the table. Per-site counters follow CG_M_SITES, one block of
 * CG_M_PER_SITE per slot: the status classes, then one per error cause. */
enum {
    CG_M_CONN_ACCEPTED = 0,
    CG_M_CONN_CLOSED,
    CG_M_TLS_FULL,
    CG_M_TLS_RESUMED,
    CG_M_TLS_FAIL,                                        /* + cg_hs_fail_t */
    CG_M_TLS_RENEG_REFUSED = CG_M_TLS_FAIL + CG_HS_FAIL__COUNT,
    CG_M_REV_PARKED,
    CG_M_REV_UNKNOWN_ALLOWED,
    CG_M_REV_ANSWERS,                                     /* + source * STATUSES + status */
    CG_M_SITES = CG_M_REV_ANSWERS + CG_M_REV_SOURCES * CG_M_REV_STATUSES,
};
#define CG_M_PER_SITE (CG_M_CLASSES + CG_ERROR_CAUSES)
#define CG_M_SITE_NONE  0          /* slot: the request reached no site */
#define CG_M_SITE_OTHER 1          /* slot: a site past admin.max_sites */
#define CG_M_SITE_FIRST 2

/* Largest /metrics body. */
#define CG_ADMIN_BODY_MAX (8u * 1024 * 1024)

/* Makes srv->metrics for srv->n_workers shards and conf->admin.max_sites
 * site slots. CG_OK / CG_ERR with *err. */
int cg_admin_metrics_new(struct cg_server *srv, const struct cg_conf *conf, char **err);
void cg_admin_metrics_free(struct cg_server *srv);

/* slots[i] := the slot of conf->sites[i], giving out new ones to names not
 * seen before. Control thread only (generations are built there). */
int cg_admin_site_slots(struct cg_server *srv, const struct cg_conf *conf, size_t *slots);

/* The /metrics body for the sites of `gen`. CG_OK, or CG_ERR when it does
 * not fit CG_ADMIN_BODY_MAX (or out of memory). */
int cg_admin_render(struct cg_server *srv, const struct cg_gen *gen, struct cg_metrics_text *t);

#endif
