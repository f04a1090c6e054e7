/*
 * config.h: the YAML configuration, loaded into an immutable, refcounted
 * snapshot. A reload builds a new snapshot to the side and swaps it whole;
 * connections keep a reference to the snapshot they started with.
 *
 * Every relative path in the file is resolved against the directory of the
 * config file at load time, so the snapshot holds only absolute paths.
 * Site and location settings are merged once at load time (a location
 * inherits what it does not set from its site, a site from the globals):
 * runtime code reads the merged values and never looks at parents.
 *
 * Errors: cg_conf_load() refuses unknown keys, duplicate keys, wrong types,
 * bad values, YAML anchors/aliases/tags and files over the bounds below with
 * "FILE:LINE:COL: key.path: expected ..., got '...'" (1-based positions).
 * docs/config.md lists every key.
 *
 * "Same address": bindings whose listen addresses parse to the same socket
 * address (family, IP, port; port 0 included) are one listener, whatever
 * site they belong to and however they were spelled ("0.0.0.0:80" and
 * ":80" are the same). The snapshot lists listeners in `listeners`.
 *
 * Thread safety: a loaded snapshot is never modified; any number of threads
 * may read it and call the find functions at once. Only the refcount moves.
 */
#ifndef CG_CONF_CONFIG_H
#define CG_CONF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "cert/ec_keydecode.h"
#include "tls/key_exchange.h"
#include "tls/key_schedule.h"
#include "cert/verdict.h"

/* Bounds on the input, so that a hostile file costs bounded memory and time. */
#define CG_CONF_MAX_FILE_BYTES (1024 * 1024)   /* 1 MiB */
#define CG_CONF_MAX_DEPTH      32              /* nested mappings/sequences */
#define CG_CONF_MAX_NODES      65536           /* scalars + mappings + sequences */
#define CG_CONF_MAX_SCALAR     8192            /* bytes in one scalar */
#define CG_CONF_MAX_WORKERS    256

/* Hard limits and timeouts; each is a config key under `limits:`. */
struct cg_limits {
    size_t header_bytes;          /* request line + headers, bytes (16384) */
    unsigned headers;             /* header fields per request (100) */
    size_t body_bytes;            /* request body (10485760) */
    unsigned handshake_timeout_ms;   /* 10s */
    unsigned header_timeout_ms;      /* 10s: whole header block, however trickled */
    unsigned body_timeout_ms;        /* 30s */
    unsigned keepalive_timeout_ms;   /* 75s; 0: close after each response */
    unsigned send_timeout_ms;        /* 60s: a client that stops reading the response */
    unsigned max_connections;        /* per process (10000) */
    unsigned max_requests_per_connection;  /* 0: unlimited (default 1000) */
    unsigned shutdown_timeout_ms;    /* SIGTERM drain deadline (10s) */
    size_t client_ca_list_warn;      /* CertificateRequest CA list: warn above (16k) */
    size_t client_ca_list_max;       /* ... refuse the config above (64k) */
    unsigned verification_cache_entries;   /* verdicts kept (10000); 0: no cache */
    size_t verification_cache_bytes;       /* their memory, estimated (32M) */
    long verification_cache_max_age_s;        /* a cached verdict's longest life (1h) */
    long verification_cache_revocation_age_s; /* ... when an OCSP answer or fetched CRL
                                                 decided it (5m) */
    long verification_cache_unknown_age_s;    /* ... when a status is unknown (0s: not kept) */
    unsigned ecdsa_key_tables;       /* P-256 keys remembered per thread (32); 0: no tables */
    unsigned ecdsa_key_table_uses;   /* signatures a key verifies before its table (16) */
    unsigned decoded_certificates;   /* peer certificates kept decoded per thread (64); 0: off */
    size_t decoded_certificate_max_bytes;   /* ... of at most this DER size (8k) */
    unsigned tls_session_cache;      /* TLS sessions kept for resumption (20480) */
    unsigned file_cache_entries;     /* small static files kept per worker (1000); 0: off */
    size_t file_cache_bytes;         /* their bytes per worker (16M) */
    size_t file_cache_max_file;      /* the largest file kept (64k, at most 64k) */
    unsigned file_cache_valid_ms;    /* trusted this long after a check (1s) */
};

typedef enum { CG_CLIENT_CERT_IGNORE = 0, CG_CLIENT_CERT_ACCEPT, CG_CLIENT_CERT_REQUIRE } cg_client_cert_mode_t;
typedef enum { CG_SSL_ALLOW = 0, CG_SSL_REQUIRE } cg_ssl_mode_t;
typedef enum { CG_ERRORS_DETAILED_LOCAL = 0, CG_ERRORS_DETAILED, CG_ERRORS_FRIENDLY } cg_errors_mode_t;
typedef enum { CG_LOG_W3C = 0, CG_LOG_COMBINED, CG_LOG_JSON } cg_log_format_t;
typedef enum { CG_LEVEL_ERROR = 0, CG_LEVEL_WARN, CG_LEVEL_INFO, CG_LEVEL_DEBUG } cg_log_level_t;
typedef enum { CG_CA_LIST_ROOTS = 0, CG_CA_LIST_EMPTY } cg_ca_list_t;
/* What answers the requests of a location (`handler:`): the site's static
 * files, or the built-in page showing the client certificate's verdict. */
typedef enum { CG_HANDLER_STATIC = 0, CG_HANDLER_CERTIFICATE_INFO } cg_handler_t;

/*
 * `revocation:` as written (global, or per site merged over the global one).
 * struct cg_policy carries what the verdict engine applies (CRL checking);
 * this struct carries everything, including the OCSP modes and the fetch
 * settings, for the revocation fetcher.
 */
typedef enum {
    CG_CONF_REVOCATION_OFF = 0,
    CG_CONF_REVOCATION_CRL,
    CG_CONF_REVOCATION_OCSP,
    CG_CONF_REVOCATION_OCSP_CRL,   /* OCSP first, CRL when OCSP gives no answer */
} cg_conf_revocation_mode_t;

struct cg_conf_revocation {
    cg_conf_revocation_mode_t mode;   /* off */
    cg_revocation_scope_t scope;      /* chain */
    cg_on_unknown_t on_unknown;       /* deny */
    long stale_grace_s;               /* 0: an answer past nextUpdate is stale at once */
    long clock_skew_s;                /* a thisUpdate this far ahead is still valid (5m) */
    unsigned timeout_ms;              /* per fetch (5s) */
    long refresh_s;                   /* re-fetch at most this often (1h) */
    char *ocsp_responder;             /* override URL; NULL: the certificate's AIA */
    long max_crl_age_s;               /* 0: no limit */
    size_t max_crl_bytes;             /* largest CRL or OCSP answer fetched (64M) */
};

struct cg_conf_log {
    char *path;                   /* NULL: stderr */
    cg_log_format_t format;       /* access log only */
    cg_log_level_t level;         /* error log only */
};

struct cg_conf_location {
    char *path;                   /* URL path prefix, starts with '/', no trailing '/'
                                     except the root location "/" */
    size_t path_len;
    cg_client_cert_mode_t client_certificates;   /* merged */
    cg_ssl_mode_t ssl;                           /* merged */
    cg_handler_t handler;                        /* not inherited: static by default */
};

struct cg_conf_binding {
    char *listen;                 /* as written: "127.0.0.1:8443", "[::1]:8443", ":8080" */
    struct sockaddr_storage addr; /* parsed; port 0 means an ephemeral port */
    socklen_t addr_len;
    bool tls;
    char *certificate, *key;      /* absolute paths; TLS only (NULL otherwise) */
    bool negotiate_client_certificate;   /* merged: default true when any site on this
                                            listen address accepts or requires */
    cg_ca_list_t ca_list;         /* `client_ca_list: roots | empty` */
    size_t listener;              /* index in cg_conf.listeners */
};

struct cg_conf_site {
    char *name;
    char **hostnames;             /* lower-case, no trailing dot; none: the default site */
    size_t n_hostnames;
    char *root;                   /* absolute document root; NULL: no static files */
    bool follow_symlinks;         /* `symlinks: follow` lets links leave root (default false) */
    cg_ssl_mode_t ssl;
    cg_client_cert_mode_t client_certificates;
    struct cg_conf_location *locations;   /* sorted by path length, longest first */
    size_t n_locations;
    struct cg_conf_binding *bindings;
    size_t n_bindings;
    struct cg_policy policy;      /* certificate policy for this site (merged) */
    struct cg_conf_revocation revocation;   /* merged over the global one */
};

/* One site reachable on a listener, through one of its bindings. */
struct cg_conf_listener_site {
    const struct cg_conf_site *site;
    const struct cg_conf_binding *binding;   /* the site's binding on this address */
};

struct cg_conf_host {
    const char *name;             /* borrowed from the site's hostnames */
    size_t entry;                 /* index in the listener's sites */
};

/*
 * One socket address to listen on, shared by every binding (of any site)
 * that names it. Built at load; everything here is borrowed from the sites.
 */
struct cg_conf_listener {
    const char *listen;           /* the first binding's spelling */
    struct sockaddr_storage addr;
    socklen_t addr_len;
    bool tls;                     /* all bindings on it agree (checked at load) */
    struct cg_conf_listener_site *sites;   /* in file order */
    size_t n_sites;
    struct cg_conf_host *hosts;   /* sorted by name (bytewise; names are lower-case) */
    size_t n_hosts;
    long default_entry;           /* index in sites of the site without hostnames; -1: none */
};

/*
 * `admin:` the admin listener (plain HTTP, GET /metrics) and the bounds of
 * the metrics. Off unless `listen` is given. The admin address may not be
 * one a binding listens on (nor overlap one through a wildcard address).
 */
struct cg_conf_admin {
    char *listen;                 /* as written; NULL: no admin listener */
    struct sockaddr_storage addr; /* parsed; port 0 means an ephemeral port */
    socklen_t addr_len;
    unsigned max_sites;           /* distinct site names the metrics tell apart over
                                     the process's life (256); read at start only */
};

struct cg_conf {
    char *file;                   /* absolute path of the file loaded */
    unsigned workers;             /* resolved: `auto` -> number of cores */
    char *stores;                 /* absolute path of the stores directory; NULL: none */
    char *state_dir;              /* `state_dir:` (default: next to the config, ./state) */
    struct cg_conf_log access_log, error_log;
    struct cg_limits limits;
    cg_errors_mode_t errors;
    cg_purpose_t purpose;         /* `client_certificate_purpose:` */
    cg_ec_key_decoding_t ec_key_decoding;   /* `ec_key_decoding:` (builtin); process-wide,
                                               applied at start, a reload only warns */
    cg_key_schedule_t key_schedule;         /* `tls_key_schedule:` (builtin); process-wide,
                                               applied at start, a reload only warns */
    cg_key_exchange_t key_exchange;         /* `tls_key_exchange:` (builtin); process-wide,
                                               applied at start, a reload only warns */
    struct cg_policy policy;      /* global certificate policy (`revocation:` etc.) */
    struct cg_conf_revocation revocation;   /* global `revocation:` as written */
    struct cg_conf_site *sites;
    size_t n_sites;
    struct cg_conf_listener *listeners;
    size_t n_listeners;
    struct cg_conf_admin admin;
    char **warnings;              /* legal but probably unintended settings, as
                                     "FILE:LINE:COL: key: text"; for logs and `config check` */
    size_t n_warnings;
    int refcount;                 /* atomic; use cg_conf_ref / cg_conf_unref */
};

/* Fills the documented defaults (used for the demo and by the loader). */
void cg_limits_init(struct cg_limits *l);

/* Flags for cg_conf_load_mem_flags. */
enum {
    /* Do not touch the file system (certificate/key readability): for fuzzing
     * and for tests of the parser alone. */
    CG_CONF_NO_FILE_CHECKS = 1u << 0,
};

/* Loads and validates FILE. CG_OK with *out (refcount 1), or CG_ERR with *err
 * naming file:line:col. Files over CG_CONF_MAX_FILE_BYTES are refused. The
 * file name in messages is `path` as given. */
int cg_conf_load(const char *path, struct cg_conf **out, char **err);
/* Loads from memory; `name` stands for the file in messages and `base_dir`
 * (absolute) resolves relative paths. `yaml` need not be NUL-terminated. */
int cg_conf_load_mem(const char *name, const char *base_dir, const char *yaml, size_t len,
                     struct cg_conf **out, char **err);
int cg_conf_load_mem_flags(const char *name, const char *base_dir, const char *yaml,
                           size_t len, unsigned flags, struct cg_conf **out, char **err);
struct cg_conf *cg_conf_ref(struct cg_conf *c);
void cg_conf_unref(struct cg_conf *c);   /* NULL-safe; frees at zero */

/* The site for a Host / SNI name on a binding's listen address (exact
 * hostname match, case-insensitive, port stripped, trailing dot ignored;
 * else the default site of that address; else NULL). `on` may come from
 * another snapshot: the address is what counts. host may be NULL (no SNI). */
const struct cg_conf_site *cg_conf_find_site(const struct cg_conf *c,
                                             const struct cg_conf_binding *on,
                                             const char *host, size_t host_len);
/* The listener for a socket address; NULL when none. */
const struct cg_conf_listener *cg_conf_find_listener(const struct cg_conf *c,
                                                     const struct sockaddr *addr,
                                                     socklen_t addr_len);
/* The location for a normalised path: longest prefix on a segment boundary
 * (/secure matches /secure and /secure/x, not /securex); NULL when no
 * location matches (the site's own settings apply). */
const struct cg_conf_location *cg_conf_find_location(const struct cg_conf_site *s,
                                                     const char *path, size_t path_len);

/* The words of the config file for enum values (static strings). */
const char *cg_conf_client_cert_name(cg_client_cert_mode_t m);   /* "ignore" ... */
const char *cg_conf_ssl_name(cg_ssl_mode_t m);                   /* "allow", "require" */
const char *cg_conf_errors_name(cg_errors_mode_t m);
const char *cg_conf_log_format_name(cg_log_format_t f);
const char *cg_conf_log_level_name(cg_log_level_t l);
const char *cg_conf_ca_list_name(cg_ca_list_t l);
const char *cg_conf_revocation_mode_name(cg_conf_revocation_mode_t m);   /* "ocsp+crl" ... */
const char *cg_conf_scope_name(cg_revocation_scope_t s);
const char *cg_conf_on_unknown_name(cg_on_unknown_t o);
const char *cg_conf_purpose_name(cg_purpose_t p);
const char *cg_conf_ec_key_decoding_name(cg_ec_key_decoding_t m);   /* "builtin", "provider" */
const char *cg_conf_key_schedule_name(cg_key_schedule_t m);       /* "builtin", "openssl" */
const char *cg_conf_key_exchange_name(cg_key_exchange_t m);       /* "builtin", "openssl" */
const char *cg_conf_handler_name(cg_handler_t h);                /* "static", "certificate-info" */

#endif
