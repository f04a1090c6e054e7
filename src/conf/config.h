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
 * Errors: cg_conf_load() refuses unknown keys, wrong types and bad values
 * with "FILE:LINE:COL: key 'x': expected ..., got ...".
 */
#ifndef CG_CONF_CONFIG_H
#define CG_CONF_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "cert/verdict.h"

/* Hard limits and timeouts; each is a config key under `limits:`. */
struct cg_limits {
    size_t header_bytes;          /* request line + headers, bytes (16384) */
    unsigned headers;             /* header fields per request (100) */
    size_t body_bytes;            /* request body (10485760) */
    unsigned handshake_timeout_ms;   /* 10s */
    unsigned header_timeout_ms;      /* 10s: whole header block, however trickled */
    unsigned body_timeout_ms;        /* 30s */
    unsigned keepalive_timeout_ms;   /* 75s */
    unsigned send_timeout_ms;        /* 60s: a client that stops reading the response */
    unsigned max_connections;        /* per process (10000) */
    unsigned max_requests_per_connection;  /* 0: unlimited (default 1000) */
    unsigned shutdown_timeout_ms;    /* SIGTERM drain deadline (10s) */
};

typedef enum { CG_CLIENT_CERT_IGNORE = 0, CG_CLIENT_CERT_ACCEPT, CG_CLIENT_CERT_REQUIRE } cg_client_cert_mode_t;
typedef enum { CG_SSL_ALLOW = 0, CG_SSL_REQUIRE } cg_ssl_mode_t;
typedef enum { CG_ERRORS_DETAILED_LOCAL = 0, CG_ERRORS_DETAILED, CG_ERRORS_FRIENDLY } cg_errors_mode_t;
typedef enum { CG_LOG_W3C = 0, CG_LOG_COMBINED, CG_LOG_JSON } cg_log_format_t;
typedef enum { CG_LEVEL_ERROR = 0, CG_LEVEL_WARN, CG_LEVEL_INFO, CG_LEVEL_DEBUG } cg_log_level_t;
typedef enum { CG_CA_LIST_ROOTS = 0, CG_CA_LIST_EMPTY } cg_ca_list_t;

struct cg_conf_log {
    char *path;                   /* NULL: stderr */
    cg_log_format_t format;       /* access log only */
    cg_log_level_t level;         /* error log only */
};

struct cg_conf_location {
    char *path;                   /* URL path prefix, starts with '/' */
    cg_client_cert_mode_t client_certificates;   /* merged */
    cg_ssl_mode_t ssl;                           /* merged */
};

struct cg_conf_binding {
    char *listen;                 /* as written: "127.0.0.1:8443", "[::1]:8443", ":8080" */
    struct sockaddr_storage addr; /* parsed; port 0 means an ephemeral port */
    socklen_t addr_len;
    bool tls;
    char *certificate, *key;      /* absolute paths; TLS only */
    bool negotiate_client_certificate;   /* merged: default true when any site on this
                                            listen address accepts or requires */
    cg_ca_list_t ca_list;         /* `client_ca_list: roots | empty` */
};

struct cg_conf_site {
    char *name;
    char **hostnames;             /* lower-case; none: the default site */
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
};

struct cg_conf {
    char *file;                   /* absolute path of the file loaded */
    unsigned workers;             /* resolved: `auto` -> number of cores */
    char *stores;                 /* absolute path of the stores directory; NULL: none */
    char *state_dir;              /* `state_dir:` (default: next to the config, ./state) */
    struct cg_conf_log access_log, error_log;
    struct cg_limits limits;
    cg_errors_mode_t errors;
    struct cg_policy policy;      /* global certificate policy (`revocation:` etc.) */
    struct cg_conf_site *sites;
    size_t n_sites;
    int refcount;                 /* atomic; use cg_conf_ref / cg_conf_unref */
};

/* Fills the documented defaults (used for the demo and by the loader). */
void cg_limits_init(struct cg_limits *l);

/* Loads and validates FILE. CG_OK with *out (refcount 1), or CG_ERR with *err
 * naming file:line:col. */
int cg_conf_load(const char *path, struct cg_conf **out, char **err);
/* Loads from memory; `name` stands for the file in messages and `base_dir`
 * resolves relative paths. */
int cg_conf_load_mem(const char *name, const char *base_dir, const char *yaml, size_t len,
                     struct cg_conf **out, char **err);
struct cg_conf *cg_conf_ref(struct cg_conf *c);
void cg_conf_unref(struct cg_conf *c);   /* NULL-safe; frees at zero */

/* The site for a Host / SNI name on a binding's listen address (exact
 * hostname match, case-insensitive, port stripped; else the default site of
 * that address; else NULL). */
const struct cg_conf_site *cg_conf_find_site(const struct cg_conf *c,
                                             const struct cg_conf_binding *on,
                                             const char *host, size_t host_len);
/* The location for a normalised path: longest prefix on a segment boundary;
 * NULL when no location matches (the site's own settings apply). */
const struct cg_conf_location *cg_conf_find_location(const struct cg_conf_site *s,
                                                     const char *path, size_t path_len);

#endif
