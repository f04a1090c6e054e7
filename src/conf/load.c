/*
 * load.c: YAML tree -> directive tables -> validated, merged snapshot.
 *
 * Every mapping of the file is read through a table of directives (key,
 * type, field, bounds, default). The walk records where each key was set,
 * which is how it refuses duplicates, tells inherited values from explicit
 * ones, and names positions in the checks that span several objects
 * (listeners shared by sites, duplicate hostnames). Merging happens once,
 * in finalize(), after which nothing is written again.
 */
#include "conf/conf_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "conf/values.h"
#include "conf/ytree.h"
#include "core/common.h"

#define MAX_DIRS 32

struct mark {
    unsigned line, col;           /* line 0: not set */
};

/* Where an object and each of its keys' values were written. */
struct meta {
    struct mark at;
    struct mark key[MAX_DIRS];
};

struct site_meta {
    struct meta m, rev;
    struct meta *locs, *binds;
    struct mark *hosts;
};

struct ld {
    const char *name;
    const char *base_dir;
    unsigned flags;
    char **err;
    char path[512];               /* the key path, for messages */
    size_t path_len;
    struct cg_conf *conf;
    struct meta top, access, errlog, limits, rev, admin;
    struct site_meta *sites;      /* conf->n_sites of them */
    size_t cur_site;
};

enum dir_type { T_UINT, T_SIZE, T_MS, T_SECONDS, T_BOOL, T_ENUM, T_STRING, T_PATH, T_CUSTOM };

enum { DIR_REQUIRED = 1u << 0 };

struct dir;
typedef int (*setter_fn)(struct ld *ld, const struct dir *d, const struct cg_ynode *v, void *obj);

struct dir {
    const char *key;
    enum dir_type type;
    size_t off, width;
    uint64_t min, max;
    const struct cg_conf_enum_name *names;   /* T_ENUM */
    setter_fn set;                           /* T_CUSTOM */
    const char *def;                         /* the default as the file would say it */
    unsigned flags;
};

struct table {
    const struct dir *dirs;
    size_t n;
};

#define FIELD(type, field) offsetof(type, field), sizeof(((type *)0)->field)

/* ---- messages ------------------------------------------------------------ */

static size_t path_push(struct ld *ld, const char *fmt, ...) CG_PRINTF(2, 3);
static size_t path_push(struct ld *ld, const char *fmt, ...)
{
    size_t old = ld->path_len;
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(ld->path + old, sizeof(ld->path) - old, fmt, ap);
    va_end(ap);
    if (n > 0)
        ld->path_len = old + (size_t)n < sizeof(ld->path) ? old + (size_t)n : sizeof(ld->path) - 1;
    return old;
}

static void path_pop(struct ld *ld, size_t old)
{
    ld->path_len = old;
    ld->path[old] = '\0';
}

static size_t push_key(struct ld *ld, const char *key)
{
    return ld->path_len == 0 ? path_push(ld, "%s", key) : path_push(ld, ".%s", key);
}

static int vformat_at(struct ld *ld, char **dst, struct mark m, const char *fmt, va_list ap)
    CG_PRINTF(4, 0);
static int vformat_at(struct ld *ld, char **dst, struct mark m, const char *fmt, va_list ap)
{
    char *msg = NULL;
    int rc;

    if (vasprintf(&msg, fmt, ap) < 0)
        return cg_set_err(dst, "%s: out of memory", ld->name);
    if (m.line == 0)
        rc = cg_set_err(dst, "%s: %s%s%s", ld->name, ld->path, ld->path_len ? ": " : "", msg);
    else
        rc = cg_set_err(dst, "%s:%u:%u: %s%s%s", ld->name, m.line, m.col, ld->path,
                        ld->path_len ? ": " : "", msg);
    free(msg);
    return rc;
}

/* "NAME:LINE:COL: key.path: message". Returns CG_ERR. */
static int err_at(struct ld *ld, struct mark m, const char *fmt, ...) CG_PRINTF(3, 4);
static int err_at(struct ld *ld, struct mark m, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vformat_at(ld, ld->err, m, fmt, ap);
    va_end(ap);
    return CG_ERR;
}

static struct mark mark_of(const struct cg_ynode *n)
{
    struct mark m = {0, 0};
    if (n != NULL) {
        m.line = n->line;
        m.col = n->col;
    }
    return m;
}

static int err_node(struct ld *ld, const struct cg_ynode *n, const char *fmt, ...) CG_PRINTF(3, 4);
static int err_node(struct ld *ld, const struct cg_ynode *n, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    vformat_at(ld, ld->err, mark_of(n), fmt, ap);
    va_end(ap);
    return CG_ERR;
}

static void warn_at(struct ld *ld, struct mark m, const char *fmt, ...) CG_PRINTF(3, 4);
static void warn_at(struct ld *ld, struct mark m, const char *fmt, ...)
{
    struct cg_conf *c = ld->conf;
    char *msg = NULL;
    char **grown;
    va_list ap;

    va_start(ap, fmt);
    vformat_at(ld, &msg, m, fmt, ap);
    va_end(ap);
    if (msg == NULL)
        return;
    grown = realloc(c->warnings, (c->n_warnings + 1) * sizeof(*grown));
    if (grown == NULL) {
        free(msg);
        return;
    }
    c->warnings = grown;
    c->warnings[c->n_warnings++] = msg;
}

/* ---- paths ---------------------------------------------------------------- */

/* Joins a relative path to the config's directory, dropping "./" segments
 * so that messages and logs show tidy paths. */
static char *resolve_path(const struct ld *ld, const char *p)
{
    char *out = NULL;

    if (p[0] == '/')
        return strdup(p);
    while (p[0] == '.' && p[1] == '/') {
        p += 2;
        while (*p == '/')
            p++;
    }
    if (strcmp(p, ".") == 0 || *p == '\0')
        return strdup(ld->base_dir);
    if (asprintf(&out, "%s%s%s", ld->base_dir,
                 ld->base_dir[0] != '\0' && ld->base_dir[strlen(ld->base_dir) - 1] == '/' ? "" : "/",
                 p) < 0)
        return NULL;
    return out;
}

/* ---- values ---------------------------------------------------------------- */

static void put_uint(void *obj, const struct dir *d, uint64_t v)
{
    char *p = (char *)obj + d->off;

    switch (d->width) {
    case 1: { uint8_t x = (uint8_t)v; memcpy(p, &x, 1); break; }
    case 2: { uint16_t x = (uint16_t)v; memcpy(p, &x, 2); break; }
    case 4: { uint32_t x = (uint32_t)v; memcpy(p, &x, 4); break; }
    default: memcpy(p, &v, 8); break;
    }
}

static void put_string(void *obj, const struct dir *d, char *s)
{
    char **slot = (char **)(void *)((char *)obj + d->off);
    free(*slot);
    *slot = s;
}

static void enum_list(const struct cg_conf_enum_name *t, char *buf, size_t size)
{
    size_t used = 0;

    buf[0] = '\0';
    for (; t->name != NULL && used < size; t++) {
        int n = snprintf(buf + used, size - used, "%s%s", used ? " | " : "", t->name);
        if (n < 0)
            break;
        used += (size_t)n;
    }
}

static void format_bound(enum dir_type type, uint64_t v, char *buf, size_t size)
{
    if (type == T_MS || type == T_SECONDS)
        cg_conf_duration_format(v, buf, size);
    else if (type == T_SIZE)
        cg_conf_size_format(v, buf, size);
    else
        snprintf(buf, size, "%llu", (unsigned long long)v);
}

static const char *expectation(const struct dir *d, char *buf, size_t size)
{
    char list[160];

    switch (d->type) {
    case T_UINT: return "a whole number";
    case T_SIZE: return "a size like 16384, 16k, 10M, 1G";
    case T_MS: return "a duration like 10s, 500ms, 2m";
    case T_SECONDS: return "a duration in whole seconds like 0s, 30m, 1h";
    case T_BOOL: return "true or false";
    case T_ENUM:
        enum_list(d->names, list, sizeof(list));
        snprintf(buf, size, "one of %s", list);
        return buf;
    case T_PATH: return "a path";
    default: return "a string";
    }
}

/* Edit distance, for "did you mean"; keys are short. */
static size_t distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b), row[64];

    if (la >= 63 || lb >= 63)
        return SIZE_MAX;
    for (size_t j = 0; j <= lb; j++)
        row[j] = j;
    for (size_t i = 1; i <= la; i++) {
        size_t diag = row[0];
        row[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t up = row[j];
            size_t best = diag + (a[i - 1] != b[j - 1]);
            if (row[j] + 1 < best)
                best = row[j] + 1;
            if (row[j - 1] + 1 < best)
                best = row[j - 1] + 1;
            row[j] = best;
            diag = up;
        }
    }
    return row[lb];
}

/* " (did you mean 'x'?)" when word is a likely typo of one of the
 * candidates (NULL-terminated via the accessor), else "". */
static void suggest(const char *word, const char *const *cands, size_t n, char *buf, size_t size)
{
    size_t best = SIZE_MAX, best_i = 0;

    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t d = distance(word, cands[i]);
        if (d < best) {
            best = d;
            best_i = i;
        }
    }
    /* Close enough to be a typo, not a different word. */
    if (n > 0 && best <= 2 && best * 3 <= strlen(word))
        snprintf(buf, size, " (did you mean '%s'?)", cands[best_i]);
}

/* Parses a scalar for directive d and stores it into obj. */
static int set_value(struct ld *ld, const struct dir *d, const struct cg_ynode *v, void *obj)
{
    char exp[200], got[80], lo[32], hi[32];
    uint64_t n = 0;
    bool b;
    int rc = CG_ERR;

    if (d->type == T_CUSTOM)
        return d->set(ld, d, v, obj);
    if (v->kind != CG_YSCALAR || cg_ytree_is_null(v))
        return err_node(ld, v, "expected %s; got %s", expectation(d, exp, sizeof(exp)),
                        cg_ytree_describe(v, got, sizeof(got)));
    switch (d->type) {
    case T_UINT:
        rc = cg_conf_parse_uint(v->text, &n);
        break;
    case T_SIZE:
        rc = cg_conf_parse_size(v->text, &n);
        break;
    case T_MS:
        rc = cg_conf_parse_duration_ms(v->text, &n);
        break;
    case T_SECONDS:
        rc = cg_conf_parse_duration_ms(v->text, &n);
        if (rc == CG_OK && n % 1000 != 0)
            rc = CG_ERR;
        break;
    case T_BOOL:
        if (cg_conf_parse_bool(v->text, &b) != CG_OK)
            break;
        memcpy((char *)obj + d->off, &b, sizeof(b));
        return CG_OK;
    case T_ENUM:
        for (const struct cg_conf_enum_name *e = d->names; e->name != NULL; e++) {
            if (strcmp(e->name, v->text) == 0) {
                put_uint(obj, d, (uint64_t)e->value);
                return CG_OK;
            }
        }
        break;
    case T_STRING:
        if (v->len < d->min)
            break;
        char *s = strdup(v->text);
        if (s == NULL)
            return err_node(ld, v, "out of memory");
        put_string(obj, d, s);
        return CG_OK;
    case T_PATH: {
        if (v->len == 0)
            break;
        char *p = resolve_path(ld, v->text);
        if (p == NULL)
            return err_node(ld, v, "out of memory");
        put_string(obj, d, p);
        return CG_OK;
    }
    default:
        break;
    }
    if (rc == CG_OK && (n < d->min || n > d->max))
        rc = CG_CONF_RANGE;
    if (rc == CG_CONF_RANGE) {
        format_bound(d->type, d->min, lo, sizeof(lo));
        format_bound(d->type, d->max, hi, sizeof(hi));
        return err_node(ld, v, "expected %s from %s to %s; got %s", expectation(d, exp, sizeof(exp)),
                        lo, hi, cg_ytree_describe(v, got, sizeof(got)));
    }
    if (rc != CG_OK && d->type == T_ENUM) {
        const char *cands[16];
        size_t nc = 0;
        char hint[96];
        for (const struct cg_conf_enum_name *e = d->names; e->name != NULL && nc < 16; e++)
            cands[nc++] = e->name;
        suggest(v->text, cands, nc, hint, sizeof(hint));
        return err_node(ld, v, "expected %s; got %s%s", expectation(d, exp, sizeof(exp)),
                        cg_ytree_describe(v, got, sizeof(got)), hint);
    }
    if (rc != CG_OK)
        return err_node(ld, v, "expected %s; got %s", expectation(d, exp, sizeof(exp)),
                        cg_ytree_describe(v, got, sizeof(got)));
    /* Bounds are in milliseconds for both duration types; the field is not. */
    if (d->type == T_SECONDS)
        n /= 1000;
    put_uint(obj, d, n);
    return CG_OK;
}

/* ---- tables ------------------------------------------------------------------ */

static int unknown_key(struct ld *ld, const struct table *t, const struct cg_ynode *k)
{
    char valid[MAX_DIRS * 40], hint[96];   /* room for every key of the largest table */
    const char *cands[MAX_DIRS];
    size_t used = 0;

    valid[0] = '\0';
    for (size_t i = 0; i < t->n; i++) {
        int n = snprintf(valid + used, sizeof(valid) - used, "%s%s", i ? ", " : "", t->dirs[i].key);
        if (n > 0 && used + (size_t)n < sizeof(valid))
            used += (size_t)n;
        cands[i] = t->dirs[i].key;
    }
    suggest(k->text, cands, t->n, hint, sizeof(hint));
    return err_node(ld, k, "unknown key '%.60s'%s; valid keys: %s", k->text, hint, valid);
}

static int apply_defaults(struct ld *ld, const struct table *t, void *obj)
{
    for (size_t i = 0; i < t->n; i++) {
        const struct dir *d = &t->dirs[i];
        if (d->def == NULL)
            continue;
        struct cg_ynode v = {.kind = CG_YSCALAR, .text = (char *)d->def, .len = strlen(d->def)};
        size_t old = push_key(ld, d->key);
        int rc = set_value(ld, d, &v, obj);
        path_pop(ld, old);
        if (rc != CG_OK)
            return rc;
    }
    return CG_OK;
}

/* Reads a mapping through table t into obj, recording positions in meta. */
static int apply_table(struct ld *ld, const struct table *t, const struct cg_ynode *map,
                       void *obj, struct meta *meta, const char *what)
{
    char got[80];

    meta->at = mark_of(map);
    if (map->kind != CG_YMAP)
        return err_node(ld, map, "expected a mapping (%s); got %s", what,
                        cg_ytree_describe(map, got, sizeof(got)));
    for (size_t i = 0; i + 1 < map->n; i += 2) {
        const struct cg_ynode *k = map->items[i], *v = map->items[i + 1];
        size_t di;

        if (k->kind != CG_YSCALAR)
            return err_node(ld, k, "expected a key name; got %s",
                            cg_ytree_describe(k, got, sizeof(got)));
        for (di = 0; di < t->n; di++) {
            if (strcmp(t->dirs[di].key, k->text) == 0)
                break;
        }
        if (di == t->n)
            return unknown_key(ld, t, k);
        if (meta->key[di].line != 0)
            return err_node(ld, k, "duplicate key '%s' (first set at line %u, column %u)",
                            k->text, meta->key[di].line, meta->key[di].col);
        meta->key[di] = mark_of(v);
        size_t old = push_key(ld, k->text);
        int rc = set_value(ld, &t->dirs[di], v, obj);
        path_pop(ld, old);
        if (rc != CG_OK)
            return rc;
    }
    for (size_t di = 0; di < t->n; di++) {
        if ((t->dirs[di].flags & DIR_REQUIRED) && meta->key[di].line == 0)
            return err_node(ld, map, "missing key '%s' (%s)", t->dirs[di].key, what);
    }
    return CG_OK;
}

/* Index of key in t; tables are small and keys are compile-time constants.
 * Not inlined: once a constant table and key meet inside a caller, GCC -O2
 * warns (-Wstring-compare) about the comparisons that cannot match, which
 * are exactly the ones the loop skips. */
__attribute__((noinline)) static size_t dir_index(const struct table *t, const char *key)
{
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->dirs[i].key, key) == 0)
            return i;
    }
    abort();   /* a misspelt key in this file: caught by any test */
}

static bool is_set(const struct meta *m, const struct table *t, const char *key)
{
    return m->key[dir_index(t, key)].line != 0;
}

static struct mark mark_key(const struct meta *m, const struct table *t, const char *key)
{
    struct mark k = m->key[dir_index(t, key)];
    return k.line != 0 ? k : m->at;
}

/* ---- custom setters -------------------------------------------------------- */

static int set_workers(struct ld *ld, const struct dir *d, const struct cg_ynode *v, void *obj)
{
    struct cg_conf *c = obj;
    char got[80];
    uint64_t n;

    if (v->kind == CG_YSCALAR && strcmp(v->text, "auto") == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        c->workers = cpus < 1 ? 1 : cpus > CG_CONF_MAX_WORKERS ? CG_CONF_MAX_WORKERS : (unsigned)cpus;
        return CG_OK;
    }
    if (v->kind == CG_YSCALAR && !cg_ytree_is_null(v) && cg_conf_parse_uint(v->text, &n) == CG_OK &&
        n >= 1 && n <= CG_CONF_MAX_WORKERS) {
        c->workers = (unsigned)n;
        return CG_OK;
    }
    return err_node(ld, v, "expected auto or a number from 1 to %d; got %s", CG_CONF_MAX_WORKERS,
                    cg_ytree_describe(v, got, sizeof(got)));
}

static int set_log_path(struct ld *ld, const struct dir *d, const struct cg_ynode *v, void *obj)
{
    struct cg_conf_log *l = obj;
    char got[80];

    if (v->kind != CG_YSCALAR || cg_ytree_is_null(v) || v->len == 0)
        return err_node(ld, v, "expected a file path, or - for stderr; got %s",
                        cg_ytree_describe(v, got, sizeof(got)));
    free(l->path);
    l->path = NULL;
    if (strcmp(v->text, "-") == 0)
        return CG_OK;
    l->path = resolve_path(ld, v->text);
    return l->path != NULL ? CG_OK : err_node(ld, v, "out of memory");
}

static int set_url(struct ld *ld, const struct dir *d, const struct cg_ynode *v, void *obj)
{
    struct cg_conf_revocation *r = obj;
    char got[80];

    if (v->kind != CG_YSCALAR)
        goto bad;
    free(r->ocsp_responder);
    r->ocsp_responder = NULL;
    if (v->len == 0 || cg_ytree_is_null(v))
        return CG_OK;   /* "": use the responder each certificate names */
    if ((strncmp(v->text, "http://", 7) != 0 && strncmp(v->text, "https://", 8) != 0) ||
        strpbrk(v->text, " \t\r\n") != NULL)
        goto bad;
    r->ocsp_responder = strdup(v->text);
    return r->ocsp_responder != NULL ? CG_OK : err_node(ld, v, "out of memory");
bad:
    return err_node(ld, v, "expected an http:// or https:// URL, or \"\" for the responder "
                    "each certificate names; got %s", cg_ytree_describe(v, got, sizeof(got)));
}

static const struct dir access_dirs[] = {
    {"path", T_CUSTOM, 0, 0, 0, 0, NULL, set_log_path, NULL, 0},
    {"format", T_ENUM, FIELD(struct cg_conf_log, format), 0, 0, cg_conf_log_format_names, NULL, "w3c", 0},
};
static const struct table access_table = {access_dirs, CG_ARRAY_LEN(access_dirs)};

static const struct dir errlog_dirs[] = {
    {"path", T_CUSTOM, 0, 0, 0, 0, NULL, set_log_path, NULL, 0},
    {"level", T_ENUM, FIELD(struct cg_conf_log, level), 0, 0, cg_conf_log_level_names, NULL, "info", 0},
};
static const struct table errlog_table = {errlog_dirs, CG_ARRAY_LEN(errlog_dirs)};

#define DAY_MS  86400000ull
#define LIM(f) FIELD(struct cg_limits, f)
static const struct dir limits_dirs[] = {
    {"header_bytes", T_SIZE, LIM(header_bytes), 1024, 1024 * 1024, NULL, NULL, "16k", 0},
    {"headers", T_UINT, LIM(headers), 1, 10000, NULL, NULL, "100", 0},
    {"body_bytes", T_SIZE, LIM(body_bytes), 0, 1ull << 40, NULL, NULL, "10M", 0},
    {"handshake_timeout", T_MS, LIM(handshake_timeout_ms), 1, DAY_MS, NULL, NULL, "10s", 0},
    {"header_timeout", T_MS, LIM(header_timeout_ms), 1, DAY_MS, NULL, NULL, "10s", 0},
    {"body_timeout", T_MS, LIM(body_timeout_ms), 1, DAY_MS, NULL, NULL, "30s", 0},
    {"keepalive_timeout", T_MS, LIM(keepalive_timeout_ms), 0, DAY_MS, NULL, NULL, "75s", 0},
    {"send_timeout", T_MS, LIM(send_timeout_ms), 1, DAY_MS, NULL, NULL, "60s", 0},
    {"max_connections", T_UINT, LIM(max_connections), 1, 10000000, NULL, NULL, "10000", 0},
    {"max_requests_per_connection", T_UINT, LIM(max_requests_per_connection), 0, UINT32_MAX,
     NULL, NULL, "1000", 0},
    {"shutdown_timeout", T_MS, LIM(shutdown_timeout_ms), 0, DAY_MS, NULL, NULL, "10s", 0},
    {"client_ca_list_warn", T_SIZE, LIM(client_ca_list_warn), 0, 65536, NULL, NULL, "16k", 0},
    {"client_ca_list_max", T_SIZE, LIM(client_ca_list_max), 0, 65536, NULL, NULL, "64k", 0},
    /* The verification cache (src/cert/vcache.h): shared by every worker,
     * made once per process. */
    {"verification_cache_entries", T_UINT, LIM(verification_cache_entries), 0, 10000000, NULL,
     NULL, "10000", 0},
    {"verification_cache_bytes", T_SIZE, LIM(verification_cache_bytes), 1u << 20, 64ull << 30,
     NULL, NULL, "32M", 0},
    {"verification_cache_max_age", T_SECONDS, LIM(verification_cache_max_age_s), 1000,
     30 * DAY_MS, NULL, NULL, "1h", 0},
    {"verification_cache_revocation_age", T_SECONDS, LIM(verification_cache_revocation_age_s),
     1000, 30 * DAY_MS, NULL, NULL, "5m", 0},
    {"verification_cache_unknown_age", T_SECONDS, LIM(verification_cache_unknown_age_s), 0,
     3600000, NULL, NULL, "0s", 0},
    /* P-256 key tables (src/cert/ecdsa_tables.h): per thread, set once. */
    {"ecdsa_key_tables", T_UINT, LIM(ecdsa_key_tables), 0, 4096, NULL, NULL, "32", 0},
    {"ecdsa_key_table_uses", T_UINT, LIM(ecdsa_key_table_uses), 1, 1000000, NULL, NULL, "16", 0},
    /* Decoded peer certificates (src/tls/cert_reuse.h): per thread, set once. */
    {"decoded_certificates", T_UINT, LIM(decoded_certificates), 0, 4096, NULL, NULL, "64", 0},
    {"decoded_certificate_max_bytes", T_SIZE, LIM(decoded_certificate_max_bytes), 256, 1u << 20,
     NULL, NULL, "8k", 0},
    {"tls_session_cache", T_UINT, LIM(tls_session_cache), 1, 1048576, NULL, NULL, "20480", 0},
    /* The static-file cache (src/http/filecache.h): one per worker. A
     * cached file goes out with its head from the connection's output
     * buffer, hence the 64k ceiling of file_cache_max_file. */
    {"file_cache_entries", T_UINT, LIM(file_cache_entries), 0, 1000000, NULL, NULL, "1000", 0},
    {"file_cache_bytes", T_SIZE, LIM(file_cache_bytes), 64u << 10, 64ull << 30, NULL, NULL,
     "16M", 0},
    {"file_cache_max_file", T_SIZE, LIM(file_cache_max_file), 1, 64u << 10, NULL, NULL, "64k",
     0},
    {"file_cache_valid", T_MS, LIM(file_cache_valid_ms), 0, 3600000, NULL, NULL, "1s", 0},
};
static const struct table limits_table = {limits_dirs, CG_ARRAY_LEN(limits_dirs)};

#define REV(f) FIELD(struct cg_conf_revocation, f)
#define YEAR_S (366ull * 86400)
static const struct dir rev_dirs[] = {
    {"mode", T_ENUM, REV(mode), 0, 0, cg_conf_revocation_mode_names, NULL, "off", 0},
    {"scope", T_ENUM, REV(scope), 0, 0, cg_conf_scope_names, NULL, "chain", 0},
    {"on_unknown", T_ENUM, REV(on_unknown), 0, 0, cg_conf_on_unknown_names, NULL, "deny", 0},
    {"stale_grace", T_SECONDS, REV(stale_grace_s), 0, YEAR_S * 1000, NULL, NULL, "0s", 0},
    /* As `openssl ocsp -validity_period`: see cg_ocsp_params.clock_skew. */
    {"clock_skew", T_SECONDS, REV(clock_skew_s), 0, 3600000, NULL, NULL, "5m", 0},
    {"timeout", T_MS, REV(timeout_ms), 1, 300000, NULL, NULL, "5s", 0},
    {"refresh", T_SECONDS, REV(refresh_s), 1000, YEAR_S * 1000, NULL, NULL, "1h", 0},
    {"ocsp_responder", T_CUSTOM, 0, 0, 0, 0, NULL, set_url, NULL, 0},
    {"max_crl_age", T_SECONDS, REV(max_crl_age_s), 0, 10 * YEAR_S * 1000, NULL, NULL, "0s", 0},
    {"max_crl_size", T_SIZE, REV(max_crl_bytes), 1024, 1ull << 30, NULL, NULL, "64M", 0},
};
static const struct table rev_table = {rev_dirs, CG_ARRAY_LEN(rev_dirs)};

static int set_access_log(struct ld *ld, const struct dir *d, const struct cg_ynode *v, void *obj)
{
    return apply_table(ld, &access_table, v, &((struct cg_conf *)obj)->access_log, &ld->access,
                       "path, format");
}

static int set_error_log(struct ld *ld, const struct dir *d, const struct cg_ynode *v, void *obj)
{
    return apply_table(ld, &errlog_table, v, &((struct cg_conf *)obj)->error_log, &ld->errlog,
                       "path, level");
}

static int set_limits(struct ld *ld, const struct dir *d, const struct cg_ynode *v, void *obj)
{
    return apply_table(ld, &limits_table, v, &((struct cg_conf *)obj)->limits, &ld->limits,
                       "header_bytes, headers, ...");
}

static int set_revocation(struct ld *ld, const struct dir *d, const struct cg_ynode *v, void *obj)
{
    return apply_table(ld, &rev_table, v, &((struct cg_conf *)obj)->revocation, &ld->rev,
                       "mode, scope, on_unknown, ...");
}

static int set_site_revocation(struct ld *ld, const struct dir *d, const struct cg_ynode *v,
                               void *obj)
{
    /* No defaults here: what a site leaves out comes from the global block. */
    return apply_table(ld, &rev_table, v, &((struct cg_conf_site *)obj)->revocation,
                       &ld->sites[ld->cur_site].rev, "mode, scope, on_unknown, ...");
}

/* A DNS name or IPv4 literal, as SNI and Host carry it. */
static bool valid_hostname(const char *s, size_t len)
{
    size_t label = 0;

    if (len == 0 || len > 253)
        return false;
    for (size_t i = 0; i < len; i++) {
        char ch = s[i];
        if (ch == '.') {
            if (label == 0)
                return false;
            label = 0;
            continue;
        }
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return false;
        if (++label > 63)
            return false;
    }
    return true;
}

static int set_hostnames(struct ld *ld, const struct dir *d, const struct cg_ynode *v, void *obj)
{
    struct cg_conf_site *s = obj;
    struct site_meta *sm = &ld->sites[ld->cur_site];
    char got[80];

    if (v->kind != CG_YSEQ)
        return err_node(ld, v, "expected a list of host names like [localhost, www.example.com]; "
                        "got %s", cg_ytree_describe(v, got, sizeof(got)));
    s->hostnames = calloc(v->n + 1, sizeof(*s->hostnames));
    sm->hosts = calloc(v->n + 1, sizeof(*sm->hosts));
    if (s->hostnames == NULL || sm->hosts == NULL)
        return err_node(ld, v, "out of memory");
    for (size_t i = 0; i < v->n; i++) {
        const struct cg_ynode *h = v->items[i];
        size_t old = path_push(ld, "[%zu]", i), len;
        int rc = CG_ERR;

        if (h->kind != CG_YSCALAR || cg_ytree_is_null(h)) {
            err_node(ld, h, "expected a host name; got %s", cg_ytree_describe(h, got, sizeof(got)));
            goto next;
        }
        len = h->len;
        if (len > 1 && h->text[len - 1] == '.')
            len--;   /* "example.com." names the same host */
        if (!valid_hostname(h->text, len)) {
            err_node(ld, h, "expected a host name (letters, digits, '-', '.'); got %s",
                     cg_ytree_describe(h, got, sizeof(got)));
            goto next;
        }
        char *name = strndup(h->text, len);
        if (name == NULL) {
            err_node(ld, h, "out of memory");
            goto next;
        }
        for (char *p = name; *p; p++) {
            if (*p >= 'A' && *p <= 'Z')
                *p = (char)(*p - 'A' + 'a');
        }
        s->hostnames[s->n_hostnames] = name;
        sm->hosts[s->n_hostnames] = mark_of(h);
        s->n_hostnames++;
        for (size_t j = 0; j + 1 < s->n_hostnames; j++) {
            if (strcmp(s->hostnames[j], name) == 0) {
                err_node(ld, h, "duplicate host name '%s' (first at line %u, column %u)", name,
                         sm->hosts[j].line, sm->hosts[j].col);
                goto next;
            }
        }
        rc = CG_OK;
    next:
        path_pop(ld, old);
        if (rc != CG_OK)
            return rc;
    }
    return CG_OK;
}

static int set_location_path(struct ld *ld, const struct dir *d, const struct cg_ynode *v,
                             void *obj)
{
    struct cg_conf_location *loc = obj;
    char got[80];
    size_t len;

    if (v->kind != CG_YSCALAR || v->len == 0 || v->text[0] != '/')
        return err_node(ld, v, "expected a URL path starting with '/'; got %s",
                        cg_ytree_describe(v, got, sizeof(got)));
    for (size_t i = 0; i < v->len; i++) {
        unsigned char ch = (unsigned char)v->text[i];
        if (ch <= 0x20 || ch == 0x7f || ch == '?' || ch == '#' || ch == '%' || ch == '\\')
            return err_node(ld, v, "expected a plain URL path (no spaces, '?', '#', '%%' or "
                            "'\\'); got %s", cg_ytree_describe(v, got, sizeof(got)));
    }
    /* Requests are matched after dot-segment removal and slash merging, so
     * a location spelt otherwise could never match. */
    if (strstr(v->text, "//") != NULL || strstr(v->text, "/./") != NULL ||
        strstr(v->text, "/../") != NULL ||
        (v->len >= 2 && strcmp(v->text + v->len - 2, "/.") == 0) ||
        (v->len >= 3 && strcmp(v->text + v->len - 3, "/..") == 0))
        return err_node(ld, v, "expected a normalised path (no '//', '.' or '..' segments); got %s",
                        cg_ytree_describe(v, got, sizeof(got)));
    len = v->len;
    while (len > 1 && v->text[len - 1] == '/')
        len--;
    free(loc->path);
    loc->path = strndup(v->text, len);
    if (loc->path == NULL)
        return err_node(ld, v, "out of memory");
    loc->path_len = len;
    return CG_OK;
}

#define LOC(f) FIELD(struct cg_conf_location, f)
static const struct dir location_dirs[] = {
    {"path", T_CUSTOM, 0, 0, 0, 0, NULL, set_location_path, NULL, DIR_REQUIRED},
    {"ssl", T_ENUM, LOC(ssl), 0, 0, cg_conf_ssl_names, NULL, NULL, 0},
    {"client_certificates", T_ENUM, LOC(client_certificates), 0, 0, cg_conf_client_cert_names,
     NULL, NULL, 0},
    {"handler", T_ENUM, LOC(handler), 0, 0, cg_conf_handler_names, NULL, "static", 0},
};
static const struct table location_table = {location_dirs, CG_ARRAY_LEN(location_dirs)};

/* A listen address into (*listen as written, *addr, *len). */
static int read_listen(struct ld *ld, const struct cg_ynode *v, char **listen,
                       struct sockaddr_storage *addr, socklen_t *len)
{
    char got[80];
    int rc;

    if (v->kind != CG_YSCALAR || cg_ytree_is_null(v))
        rc = CG_ERR;
    else
        rc = cg_conf_parse_listen(v->text, addr, len);
    if (rc == CG_CONF_RANGE)
        return err_node(ld, v, "port out of range (0 to 65535); got %s",
                        cg_ytree_describe(v, got, sizeof(got)));
    if (rc != CG_OK)
        return err_node(ld, v, "expected an address like 127.0.0.1:8443, [::1]:8443, :8443 or "
                        "*:8443; got %s", cg_ytree_describe(v, got, sizeof(got)));
    free(*listen);
    *listen = strdup(v->text);
    return *listen != NULL ? CG_OK : err_node(ld, v, "out of memory");
}

static int set_listen(struct ld *ld, const struct dir *d, const struct cg_ynode *v, void *obj)
{
    struct cg_conf_binding *b = obj;
    return read_listen(ld, v, &b->listen, &b->addr, &b->addr_len);
}

#define BIND(f) FIELD(struct cg_conf_binding, f)
static const struct dir binding_dirs[] = {
    {"listen", T_CUSTOM, 0, 0, 0, 0, NULL, set_listen, NULL, DIR_REQUIRED},
    {"tls", T_BOOL, BIND(tls), 0, 0, NULL, NULL, "false", 0},
    {"certificate", T_PATH, BIND(certificate), 0, 0, NULL, NULL, NULL, 0},
    {"key", T_PATH, BIND(key), 0, 0, NULL, NULL, NULL, 0},
    {"negotiate_client_certificate", T_BOOL, BIND(negotiate_client_certificate), 0, 0, NULL,
     NULL, NULL, 0},
    {"client_ca_list", T_ENUM, BIND(ca_list), 0, 0, cg_conf_ca_list_names, NULL, "roots", 0},
};
static const struct table binding_table = {binding_dirs, CG_ARRAY_LEN(binding_dirs)};

static int set_admin_listen(struct ld *ld, const struct dir *d, const struct cg_ynode *v,
                            void *obj)
{
    struct cg_conf_admin *a = obj;
    return read_listen(ld, v, &a->listen, &a->addr, &a->addr_len);
}

#define ADMIN(f) FIELD(struct cg_conf_admin, f)
static const struct dir admin_dirs[] = {
    {"listen", T_CUSTOM, 0, 0, 0, 0, NULL, set_admin_listen, NULL, 0},
    {"max_sites", T_UINT, ADMIN(max_sites), 1, 65536, NULL, NULL, "256", 0},
};
static const struct table admin_table = {admin_dirs, CG_ARRAY_LEN(admin_dirs)};

static int set_admin(struct ld *ld, const struct dir *d, const struct cg_ynode *v, void *obj)
{
    return apply_table(ld, &admin_table, v, &((struct cg_conf *)obj)->admin, &ld->admin,
                       "listen, max_sites");
}

/* Reads a sequence of mappings into a new array of `size`-byte objects. */
static int read_list(struct ld *ld, const struct cg_ynode *v, const char *what, size_t size,
                     void **items, size_t *n, struct meta **metas, const struct table *t,
                     const char *keys)
{
    char got[80];

    if (v->kind != CG_YSEQ)
        return err_node(ld, v, "expected a list of %s (each item a mapping: %s); got %s", what,
                        keys, cg_ytree_describe(v, got, sizeof(got)));
    *items = calloc(v->n + 1, size);
    *metas = calloc(v->n + 1, sizeof(**metas));
    if (*items == NULL || *metas == NULL)
        return err_node(ld, v, "out of memory");
    /* Counted up front so that whatever was allocated is freed on error. */
    *n = v->n;
    for (size_t i = 0; i < v->n; i++) {
        size_t old = path_push(ld, "[%zu]", i);
        if (apply_defaults(ld, t, (char *)*items + i * size) != CG_OK ||
            apply_table(ld, t, v->items[i], (char *)*items + i * size, &(*metas)[i], keys) != CG_OK)
            return CG_ERR;
        path_pop(ld, old);
    }
    return CG_OK;
}

static int set_locations(struct ld *ld, const struct dir *d, const struct cg_ynode *v, void *obj)
{
    struct cg_conf_site *s = obj;
    return read_list(ld, v, "locations", sizeof(*s->locations), (void **)&s->locations,
                     &s->n_locations, &ld->sites[ld->cur_site].locs, &location_table,
                     "path, ssl, client_certificates");
}

static int set_bindings(struct ld *ld, const struct dir *d, const struct cg_ynode *v, void *obj)
{
    struct cg_conf_site *s = obj;
    int rc = read_list(ld, v, "bindings", sizeof(*s->bindings), (void **)&s->bindings,
                       &s->n_bindings, &ld->sites[ld->cur_site].binds, &binding_table,
                       "listen, tls, certificate, key, ...");
    if (rc == CG_OK && s->n_bindings == 0)
        return err_node(ld, v, "a site needs at least one binding (- listen: \"127.0.0.1:8443\")");
    return rc;
}

/* Site names appear in logs, metrics labels and session contexts: keep
 * them to characters that need no quoting anywhere. */
static int set_site_name(struct ld *ld, const struct dir *d, const struct cg_ynode *v, void *obj)
{
    struct cg_conf_site *s = obj;
    char got[80];
    bool ok = v->kind == CG_YSCALAR && v->len > 0 && v->len <= 64;

    for (size_t i = 0; ok && i < v->len; i++) {
        char ch = v->text[i];
        ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
             ch == '-' || ch == '_' || ch == '.';
    }
    if (!ok)
        return err_node(ld, v, "expected a name of up to 64 letters, digits, '-', '_' or '.'; "
                        "got %s", cg_ytree_describe(v, got, sizeof(got)));
    free(s->name);
    s->name = strdup(v->text);
    return s->name != NULL ? CG_OK : err_node(ld, v, "out of memory");
}

#define SITE(f) FIELD(struct cg_conf_site, f)
static const struct dir site_dirs[] = {
    {"name", T_CUSTOM, 0, 0, 0, 0, NULL, set_site_name, NULL, DIR_REQUIRED},
    {"hostnames", T_CUSTOM, 0, 0, 0, 0, NULL, set_hostnames, NULL, 0},
    {"root", T_PATH, SITE(root), 0, 0, NULL, NULL, NULL, 0},
    {"symlinks", T_ENUM, SITE(follow_symlinks), 0, 0, cg_conf_symlinks_names, NULL, "refuse", 0},
    {"ssl", T_ENUM, SITE(ssl), 0, 0, cg_conf_ssl_names, NULL, "allow", 0},
    {"client_certificates", T_ENUM, SITE(client_certificates), 0, 0, cg_conf_client_cert_names,
     NULL, "ignore", 0},
    {"revocation", T_CUSTOM, 0, 0, 0, 0, NULL, set_site_revocation, NULL, 0},
    {"locations", T_CUSTOM, 0, 0, 0, 0, NULL, set_locations, NULL, 0},
    {"bindings", T_CUSTOM, 0, 0, 0, 0, NULL, set_bindings, NULL, DIR_REQUIRED},
};
static const struct table site_table = {site_dirs, CG_ARRAY_LEN(site_dirs)};

static int set_sites(struct ld *ld, const struct dir *d, const struct cg_ynode *v, void *obj)
{
    struct cg_conf *c = obj;
    char got[80];

    if (v->kind != CG_YSEQ)
        return err_node(ld, v, "expected a list of sites (- name: ...); got %s",
                        cg_ytree_describe(v, got, sizeof(got)));
    if (v->n == 0)
        return err_node(ld, v, "at least one site is required");
    c->sites = calloc(v->n, sizeof(*c->sites));
    ld->sites = calloc(v->n, sizeof(*ld->sites));
    if (c->sites == NULL || ld->sites == NULL)
        return err_node(ld, v, "out of memory");
    c->n_sites = v->n;
    for (size_t i = 0; i < v->n; i++) {
        size_t old = path_push(ld, "[%zu]", i);
        ld->cur_site = i;
        if (apply_defaults(ld, &site_table, &c->sites[i]) != CG_OK ||
            apply_table(ld, &site_table, v->items[i], &c->sites[i], &ld->sites[i].m,
                        "name, hostnames, root, bindings, ...") != CG_OK)
            return CG_ERR;
        path_pop(ld, old);
    }
    return CG_OK;
}

#define TOP(f) FIELD(struct cg_conf, f)
static const struct dir top_dirs[] = {
    {"workers", T_CUSTOM, 0, 0, 0, 0, NULL, set_workers, "auto", 0},
    {"stores", T_PATH, TOP(stores), 0, 0, NULL, NULL, NULL, 0},
    {"state_dir", T_PATH, TOP(state_dir), 0, 0, NULL, NULL, "./state", 0},
    {"access_log", T_CUSTOM, 0, 0, 0, 0, NULL, set_access_log, NULL, 0},
    {"error_log", T_CUSTOM, 0, 0, 0, 0, NULL, set_error_log, NULL, 0},
    {"limits", T_CUSTOM, 0, 0, 0, 0, NULL, set_limits, NULL, 0},
    {"errors", T_ENUM, TOP(errors), 0, 0, cg_conf_errors_names, NULL, "detailed-local", 0},
    {"revocation", T_CUSTOM, 0, 0, 0, 0, NULL, set_revocation, NULL, 0},
    {"client_certificate_purpose", T_ENUM, TOP(purpose), 0, 0, cg_conf_purpose_names, NULL,
     "client", 0},
    {"ec_key_decoding", T_ENUM, TOP(ec_key_decoding), 0, 0, cg_conf_ec_key_decoding_names, NULL,
     "builtin", 0},
    {"tls_key_schedule", T_ENUM, TOP(key_schedule), 0, 0, cg_conf_key_schedule_names, NULL,
     "builtin", 0},
    {"tls_key_exchange", T_ENUM, TOP(key_exchange), 0, 0, cg_conf_key_exchange_names, NULL,
     "builtin", 0},
    {"admin", T_CUSTOM, 0, 0, 0, 0, NULL, set_admin, NULL, 0},
    {"sites", T_CUSTOM, 0, 0, 0, 0, NULL, set_sites, NULL, DIR_REQUIRED},
};
static const struct table top_table = {top_dirs, CG_ARRAY_LEN(top_dirs)};

/* Positions are recorded per key index, so no table may outgrow them. */
_Static_assert(CG_ARRAY_LEN(top_dirs) <= MAX_DIRS, "top_dirs");
_Static_assert(CG_ARRAY_LEN(site_dirs) <= MAX_DIRS, "site_dirs");
_Static_assert(CG_ARRAY_LEN(limits_dirs) <= MAX_DIRS, "limits_dirs");
_Static_assert(CG_ARRAY_LEN(rev_dirs) <= MAX_DIRS, "rev_dirs");
_Static_assert(CG_ARRAY_LEN(binding_dirs) <= MAX_DIRS, "binding_dirs");
_Static_assert(CG_ARRAY_LEN(location_dirs) <= MAX_DIRS, "location_dirs");
_Static_assert(CG_ARRAY_LEN(admin_dirs) <= MAX_DIRS, "admin_dirs");

/* ---- merge and validate ------------------------------------------------------ */

static void policy_from(const struct cg_conf_revocation *r, cg_purpose_t purpose,
                        struct cg_policy *p)
{
    /* Spelled out rather than cg_policy_init() so the snapshot does not
     * depend on the engine's defaults changing under it. */
    memset(p, 0, sizeof(*p));
    p->purpose = purpose;
    /* The engine checks CRLs; OCSP answers are the fetcher's, which reads
     * struct cg_conf_revocation. ocsp+crl still needs CRLs as the fallback. */
    p->revocation = (r->mode == CG_CONF_REVOCATION_CRL || r->mode == CG_CONF_REVOCATION_OCSP_CRL)
                        ? CG_REVOCATION_CRL : CG_REVOCATION_OFF;
    p->scope = r->scope;
    p->on_unknown = r->on_unknown;
    p->max_crl_age = r->max_crl_age_s;
    /* The same leeway for the stores' CRLs as for OCSP and fetched CRLs. */
    p->clock_skew = r->clock_skew_s;
    p->max_depth = 0;
}

static int merge_revocation(struct ld *ld, struct cg_conf_site *s, const struct meta *m)
{
    const struct cg_conf_revocation *g = &ld->conf->revocation;

    for (size_t i = 0; i < rev_table.n; i++) {
        const struct dir *d = &rev_table.dirs[i];
        if (m->key[i].line != 0)
            continue;
        if (d->type == T_CUSTOM) {   /* ocsp_responder, the one string */
            free(s->revocation.ocsp_responder);
            s->revocation.ocsp_responder = NULL;
            if (g->ocsp_responder != NULL &&
                (s->revocation.ocsp_responder = strdup(g->ocsp_responder)) == NULL)
                return err_at(ld, m->at, "out of memory");
            continue;
        }
        memcpy((char *)&s->revocation + d->off, (const char *)g + d->off, d->width);
    }
    return CG_OK;
}

static int loc_cmp(const void *a, const void *b)
{
    const struct cg_conf_location *x = a, *y = b;
    if (x->path_len != y->path_len)
        return x->path_len > y->path_len ? -1 : 1;
    return strcmp(x->path, y->path);
}

static int finalize_locations(struct ld *ld, struct cg_conf_site *s, struct site_meta *sm)
{
    for (size_t i = 0; i < s->n_locations; i++) {
        struct cg_conf_location *loc = &s->locations[i];
        const struct meta *lm = &sm->locs[i];
        if (!is_set(lm, &location_table, "ssl"))
            loc->ssl = s->ssl;
        if (!is_set(lm, &location_table, "client_certificates"))
            loc->client_certificates = s->client_certificates;
        for (size_t j = 0; j < i; j++) {
            if (strcmp(s->locations[j].path, loc->path) == 0)
                return err_at(ld, mark_key(lm, &location_table, "path"),
                              "location '%s' is already defined at line %u (paths are compared "
                              "without a trailing '/')", loc->path, sm->locs[j].at.line);
        }
    }
    /* The metas are not needed past this point, so only the locations move. */
    if (s->n_locations > 1)
        qsort(s->locations, s->n_locations, sizeof(*s->locations), loc_cmp);
    return CG_OK;
}

static int check_readable(struct ld *ld, const char *path, struct mark m, const char *what)
{
    struct stat st;
    char buf[128];
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0)
        return err_at(ld, m, "cannot read %s '%s': %s", what, path,
                      strerror_r(errno, buf, sizeof(buf)));
    int rc = fstat(fd, &st);
    close(fd);
    if (rc != 0 || !S_ISREG(st.st_mode))
        return err_at(ld, m, "%s '%s' is not a regular file", what, path);
    return CG_OK;
}

static int check_binding(struct ld *ld, struct cg_conf_binding *b, const struct meta *bm)
{
    const struct table *t = &binding_table;

    if (!b->tls) {
        static const char *const tls_only[] = {"certificate", "key", "client_ca_list"};
        for (size_t i = 0; i < CG_ARRAY_LEN(tls_only); i++) {
            if (is_set(bm, t, tls_only[i]))
                return err_at(ld, mark_key(bm, t, tls_only[i]),
                              "'%s' is only for TLS bindings (add tls: true)", tls_only[i]);
        }
        if (is_set(bm, t, "negotiate_client_certificate") && b->negotiate_client_certificate)
            return err_at(ld, mark_key(bm, t, "negotiate_client_certificate"),
                          "a plain-HTTP binding cannot ask for a client certificate (add tls: true)");
        return CG_OK;
    }
    if (b->certificate == NULL || b->key == NULL)
        return err_at(ld, bm->at, "a TLS binding needs 'certificate' and 'key' (missing '%s')",
                      b->certificate == NULL ? "certificate" : "key");
    if (ld->flags & CG_CONF_NO_FILE_CHECKS)
        return CG_OK;
    size_t old = push_key(ld, "certificate");
    int rc = check_readable(ld, b->certificate, mark_key(bm, t, "certificate"), "certificate");
    path_pop(ld, old);
    if (rc != CG_OK)
        return rc;
    old = push_key(ld, "key");
    rc = check_readable(ld, b->key, mark_key(bm, t, "key"), "key");
    path_pop(ld, old);
    return rc;
}

struct hostref {
    const char *name;
    size_t entry;
    struct mark m;
    size_t site;
};

static int hostref_cmp(const void *a, const void *b)
{
    const struct hostref *x = a, *y = b;
    int c = strcmp(x->name, y->name);
    if (c != 0)
        return c;
    if (x->m.line != y->m.line)
        return x->m.line < y->m.line ? -1 : 1;
    return x->m.col < y->m.col ? -1 : x->m.col > y->m.col;
}

static bool site_wants_certificates(const struct cg_conf_site *s)
{
    if (s->client_certificates != CG_CLIENT_CERT_IGNORE)
        return true;
    for (size_t i = 0; i < s->n_locations; i++) {
        if (s->locations[i].client_certificates != CG_CLIENT_CERT_IGNORE)
            return true;
    }
    return false;
}

/* Whether two listen addresses would take the same connections: the same
 * port (not 0: each ephemeral port is its own) in the same family, and the
 * same IP or a wildcard on either side (SO_REUSEPORT would let both bind
 * and split the connections between them). IPv6 sockets are v6-only. */
static bool listen_overlap(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
    if (a->ss_family != b->ss_family)
        return false;
    if (a->ss_family == AF_INET) {
        const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
        return x->sin_port != 0 && x->sin_port == y->sin_port &&
               (x->sin_addr.s_addr == y->sin_addr.s_addr || x->sin_addr.s_addr == INADDR_ANY ||
                y->sin_addr.s_addr == INADDR_ANY);
    }
    if (a->ss_family == AF_INET6) {
        const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
        return x->sin6_port != 0 && x->sin6_port == y->sin6_port &&
               (memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0 ||
                IN6_IS_ADDR_UNSPECIFIED(&x->sin6_addr) || IN6_IS_ADDR_UNSPECIFIED(&y->sin6_addr));
    }
    return false;
}

/* The admin listener needs an address no binding listens on. */
static int check_admin(struct ld *ld)
{
    const struct cg_conf *c = ld->conf;
    struct mark am = mark_key(&ld->admin, &admin_table, "listen");

    if (c->admin.listen == NULL)
        return CG_OK;
    for (size_t si = 0; si < c->n_sites; si++) {
        for (size_t bi = 0; bi < c->sites[si].n_bindings; bi++) {
            const struct cg_conf_binding *b = &c->sites[si].bindings[bi];
            if (!listen_overlap(&c->admin.addr, &b->addr))
                continue;
            size_t old = path_push(ld, "admin.listen");
            err_at(ld, am, "'%s' clashes with site '%s' listening on '%s' (line %u): the admin "
                   "listener needs an address of its own", c->admin.listen, c->sites[si].name,
                   b->listen, mark_key(&ld->sites[si].binds[bi], &binding_table, "listen").line);
            path_pop(ld, old);
            return CG_ERR;
        }
    }
    return CG_OK;
}

/* Groups bindings by socket address into listeners and checks what must
 * agree across the sites sharing one. */
static int build_listeners(struct ld *ld)
{
    struct cg_conf *c = ld->conf;
    size_t total = 0;
    struct hostref *refs = NULL;
    int rc = CG_ERR;

    for (size_t i = 0; i < c->n_sites; i++)
        total += c->sites[i].n_bindings;
    c->listeners = calloc(total + 1, sizeof(*c->listeners));
    if (c->listeners == NULL)
        return err_at(ld, ld->top.at, "out of memory");

    for (size_t si = 0; si < c->n_sites; si++) {
        struct cg_conf_site *s = &c->sites[si];
        for (size_t bi = 0; bi < s->n_bindings; bi++) {
            struct cg_conf_binding *b = &s->bindings[bi];
            struct mark bm = mark_key(&ld->sites[si].binds[bi], &binding_table, "listen");
            struct cg_conf_listener *l = NULL;
            size_t li;

            for (li = 0; li < c->n_listeners; li++) {
                if (cg_conf_addr_equal((struct sockaddr *)&c->listeners[li].addr,
                                       c->listeners[li].addr_len, (struct sockaddr *)&b->addr,
                                       b->addr_len))
                    break;
            }
            if (li == c->n_listeners) {
                l = &c->listeners[c->n_listeners++];
                l->listen = b->listen;
                l->addr = b->addr;
                l->addr_len = b->addr_len;
                l->tls = b->tls;
                l->default_entry = -1;
                l->sites = calloc(c->n_sites, sizeof(*l->sites));
                if (l->sites == NULL)
                    return err_at(ld, bm, "out of memory");
            }
            l = &c->listeners[li];
            b->listener = li;
            size_t old = path_push(ld, "sites[%zu].bindings[%zu].listen", si, bi);
            for (size_t e = 0; e < l->n_sites; e++) {
                const struct cg_conf_binding *ob = l->sites[e].binding;
                if (l->sites[e].site == s) {
                    err_at(ld, bm, "site '%s' already has a binding on this address ('%s')",
                           s->name, ob->listen);
                    goto out;
                }
            }
            if (b->tls != l->tls) {
                err_at(ld, bm, "tls: %s here, but site '%s' uses the same address ('%s') with "
                       "tls: %s; one address is either TLS or plain HTTP",
                       b->tls ? "true" : "false", l->sites[0].site->name,
                       l->sites[0].binding->listen, l->tls ? "true" : "false");
                goto out;
            }
            if (s->n_hostnames == 0) {
                if (l->default_entry >= 0) {
                    err_at(ld, bm, "sites '%s' and '%s' both have no hostnames on the same "
                           "address, so both would be its default site; give one of them "
                           "hostnames", l->sites[l->default_entry].site->name, s->name);
                    goto out;
                }
                l->default_entry = (long)l->n_sites;
            }
            l->sites[l->n_sites].site = s;
            l->sites[l->n_sites].binding = b;
            l->n_sites++;
            l->n_hosts += s->n_hostnames;
            path_pop(ld, old);
        }
    }

    /* Hostnames per listener: sorted for lookup, adjacent equals are duplicates. */
    for (size_t li = 0; li < c->n_listeners; li++) {
        struct cg_conf_listener *l = &c->listeners[li];
        size_t n = 0;

        free(refs);
        refs = calloc(l->n_hosts + 1, sizeof(*refs));
        l->hosts = calloc(l->n_hosts + 1, sizeof(*l->hosts));
        if (refs == NULL || l->hosts == NULL) {
            err_at(ld, ld->top.at, "out of memory");
            goto out;
        }
        for (size_t e = 0; e < l->n_sites; e++) {
            const struct cg_conf_site *s = l->sites[e].site;
            size_t si = (size_t)(s - c->sites);
            for (size_t h = 0; h < s->n_hostnames; h++)
                refs[n++] = (struct hostref){s->hostnames[h], e, ld->sites[si].hosts[h], si};
        }
        qsort(refs, n, sizeof(*refs), hostref_cmp);
        for (size_t i = 0; i < n; i++) {
            if (i > 0 && strcmp(refs[i].name, refs[i - 1].name) == 0) {
                size_t hi = 0;
                const struct cg_conf_site *s = &c->sites[refs[i].site];
                while (hi < s->n_hostnames && strcmp(s->hostnames[hi], refs[i].name) != 0)
                    hi++;
                size_t old = path_push(ld, "sites[%zu].hostnames[%zu]", refs[i].site, hi);
                err_at(ld, refs[i].m, "host name '%s' is already served on %s by site '%s' "
                       "(line %u); SNI and Host could not tell them apart", refs[i].name,
                       l->listen, c->sites[refs[i - 1].site].name, refs[i - 1].m.line);
                path_pop(ld, old);
                goto out;
            }
            l->hosts[i].name = refs[i].name;
            l->hosts[i].entry = refs[i].entry;
        }
    }

    /* negotiate_client_certificate: asked in the handshake when anyone on the
     * address may want a certificate, unless the binding says otherwise. */
    for (size_t si = 0; si < c->n_sites; si++) {
        struct cg_conf_site *s = &c->sites[si];
        for (size_t bi = 0; bi < s->n_bindings; bi++) {
            struct cg_conf_binding *b = &s->bindings[bi];
            const struct cg_conf_listener *l = &c->listeners[b->listener];
            if (is_set(&ld->sites[si].binds[bi], &binding_table, "negotiate_client_certificate"))
                continue;
            b->negotiate_client_certificate = false;
            for (size_t e = 0; l->tls && e < l->n_sites; e++) {
                if (site_wants_certificates(l->sites[e].site))
                    b->negotiate_client_certificate = true;
            }
        }
    }
    rc = CG_OK;
out:
    free(refs);
    return rc;
}

static void add_warnings(struct ld *ld)
{
    struct cg_conf *c = ld->conf;
    bool any_wants = false;

    for (size_t si = 0; si < c->n_sites; si++)
        any_wants = any_wants || site_wants_certificates(&c->sites[si]);
    if (any_wants && c->stores == NULL)
        warn_at(ld, ld->top.at, "client certificates are accepted or required but no 'stores:' "
                "is set: no certificate can be trusted (403.16 untrusted-root)");

    for (size_t si = 0; si < c->n_sites; si++) {
        const struct cg_conf_site *s = &c->sites[si];
        const struct site_meta *sm = &ld->sites[si];
        bool any_tls = false, wants = site_wants_certificates(s), wants_ssl = s->ssl == CG_SSL_REQUIRE;
        size_t old = path_push(ld, "sites[%zu]", si);

        for (size_t i = 0; i < s->n_locations; i++)
            wants_ssl = wants_ssl || s->locations[i].ssl == CG_SSL_REQUIRE;
        for (size_t bi = 0; bi < s->n_bindings; bi++) {
            const struct cg_conf_binding *b = &s->bindings[bi];
            any_tls = any_tls || b->tls;
            if (b->tls && wants && !b->negotiate_client_certificate) {
                size_t o2 = path_push(ld, ".bindings[%zu]", bi);
                warn_at(ld, mark_key(&sm->binds[bi], &binding_table, "negotiate_client_certificate"),
                        "binding %s does not ask for a client certificate in the handshake, but "
                        "site '%s' accepts or requires one: requests that need it get 403.7",
                        b->listen, s->name);
                path_pop(ld, o2);
            }
        }
        if (wants && !any_tls)
            warn_at(ld, sm->m.at, "site '%s' wants client certificates but has no TLS binding",
                    s->name);
        if (wants_ssl && !any_tls)
            warn_at(ld, sm->m.at, "site '%s' requires TLS but has no TLS binding: every request "
                    "gets 403.4", s->name);
        if (s->root != NULL && !(ld->flags & CG_CONF_NO_FILE_CHECKS)) {
            struct stat st;
            if (stat(s->root, &st) != 0 || !S_ISDIR(st.st_mode))
                warn_at(ld, mark_key(&sm->m, &site_table, "root"),
                        "root '%s' is not a directory (yet)", s->root);
        }
        path_pop(ld, old);
    }
}

static int finalize(struct ld *ld)
{
    struct cg_conf *c = ld->conf;

    policy_from(&c->revocation, c->purpose, &c->policy);
    for (size_t si = 0; si < c->n_sites; si++) {
        struct cg_conf_site *s = &c->sites[si];
        struct site_meta *sm = &ld->sites[si];
        size_t old = path_push(ld, "sites[%zu]", si);
        int rc = CG_ERR;

        for (size_t j = 0; j < si; j++) {
            if (strcmp(c->sites[j].name, s->name) == 0) {
                size_t o2 = push_key(ld, "name");
                err_at(ld, mark_key(&sm->m, &site_table, "name"),
                       "site name '%s' is already used at line %u", s->name,
                       ld->sites[j].m.at.line);
                path_pop(ld, o2);
                goto next;
            }
        }
        if (merge_revocation(ld, s, &sm->rev) != CG_OK)
            goto next;
        policy_from(&s->revocation, c->purpose, &s->policy);
        path_push(ld, ".locations");
        if (finalize_locations(ld, s, sm) != CG_OK)
            goto next;
        path_pop(ld, old);
        path_push(ld, "sites[%zu]", si);
        for (size_t bi = 0; bi < s->n_bindings; bi++) {
            size_t o2 = path_push(ld, ".bindings[%zu]", bi);
            if (check_binding(ld, &s->bindings[bi], &sm->binds[bi]) != CG_OK)
                goto next;
            path_pop(ld, o2);
        }
        rc = CG_OK;
    next:
        path_pop(ld, old);
        if (rc != CG_OK)
            return rc;
    }
    if (build_listeners(ld) != CG_OK || check_admin(ld) != CG_OK)
        return CG_ERR;
    add_warnings(ld);
    return CG_OK;
}

/* ---- entry points ----------------------------------------------------------- */

static void free_metas(struct ld *ld)
{
    if (ld->sites == NULL)
        return;
    for (size_t i = 0; i < ld->conf->n_sites; i++) {
        free(ld->sites[i].locs);
        free(ld->sites[i].binds);
        free(ld->sites[i].hosts);
    }
    free(ld->sites);
    ld->sites = NULL;
}

void cg_limits_init(struct cg_limits *l)
{
    struct ld ld = {.name = "(defaults)", .base_dir = "/"};

    memset(l, 0, sizeof(*l));
    /* The table is the one source of the defaults; they cannot fail. */
    (void)apply_defaults(&ld, &limits_table, l);
}

int cg_conf_load_mem_flags(const char *name, const char *base_dir, const char *yaml, size_t len,
                           unsigned flags, struct cg_conf **out, char **err)
{
    struct ld ld = {.name = name, .base_dir = base_dir, .flags = flags, .err = err};
    struct cg_ynode *root = NULL;
    struct cg_conf *c = NULL;
    char abs[PATH_MAX];
    int rc = CG_ERR;

    *out = NULL;
    if (cg_ytree_parse(name, yaml, len, &root, err) != CG_OK)
        goto cleanup;
    if (root == NULL) {
        cg_set_err(err, "%s: empty configuration: expected a mapping with at least 'sites:'", name);
        goto cleanup;
    }
    c = calloc(1, sizeof(*c));
    if (c == NULL) {
        cg_set_err(err, "%s: out of memory", name);
        goto cleanup;
    }
    ld.conf = c;
    c->refcount = 1;
    if (name[0] == '/')
        c->file = strdup(name);
    else if (snprintf(abs, sizeof(abs), "%s/%s", base_dir, strrchr(name, '/') ? strrchr(name, '/') + 1 : name) > 0)
        c->file = strdup(abs);
    if (c->file == NULL) {
        cg_set_err(err, "%s: out of memory", name);
        goto cleanup;
    }
    if (apply_defaults(&ld, &top_table, c) != CG_OK ||
        apply_defaults(&ld, &access_table, &c->access_log) != CG_OK ||
        apply_defaults(&ld, &errlog_table, &c->error_log) != CG_OK ||
        apply_defaults(&ld, &limits_table, &c->limits) != CG_OK ||
        apply_defaults(&ld, &rev_table, &c->revocation) != CG_OK ||
        apply_defaults(&ld, &admin_table, &c->admin) != CG_OK)
        goto cleanup;
    if (apply_table(&ld, &top_table, root, c, &ld.top, "workers, stores, sites, ...") != CG_OK)
        goto cleanup;
    if (finalize(&ld) != CG_OK)
        goto cleanup;
    *out = c;
    c = NULL;
    rc = CG_OK;
cleanup:
    free_metas(&ld);
    cg_conf_free(c);
    cg_ytree_free(root);
    return rc;
}

int cg_conf_load_mem(const char *name, const char *base_dir, const char *yaml, size_t len,
                     struct cg_conf **out, char **err)
{
    return cg_conf_load_mem_flags(name, base_dir, yaml, len, 0, out, err);
}

int cg_conf_load(const char *path, struct cg_conf **out, char **err)
{
    char *buf = NULL, *real = NULL, ebuf[128];
    size_t len = 0;
    int fd = -1, rc = CG_ERR;

    *out = NULL;
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        cg_set_err(err, "%s: cannot open: %s", path, strerror_r(errno, ebuf, sizeof(ebuf)));
        goto cleanup;
    }
    /* Read at most one byte past the bound: enough to know it is too big,
     * whatever fstat says about pipes and special files. */
    buf = malloc(CG_CONF_MAX_FILE_BYTES + 1);
    if (buf == NULL) {
        cg_set_err(err, "%s: out of memory", path);
        goto cleanup;
    }
    while (len <= CG_CONF_MAX_FILE_BYTES) {
        ssize_t n = read(fd, buf + len, CG_CONF_MAX_FILE_BYTES + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            cg_set_err(err, "%s: cannot read: %s", path, strerror_r(errno, ebuf, sizeof(ebuf)));
            goto cleanup;
        }
        if (n == 0)
            break;
        len += (size_t)n;
    }
    if (len > CG_CONF_MAX_FILE_BYTES) {
        cg_set_err(err, "%s: file too large (the limit is %d bytes)", path, CG_CONF_MAX_FILE_BYTES);
        goto cleanup;
    }
    real = realpath(path, NULL);
    if (real == NULL) {
        cg_set_err(err, "%s: cannot resolve: %s", path, strerror_r(errno, ebuf, sizeof(ebuf)));
        goto cleanup;
    }
    char *slash = strrchr(real, '/');
    char *file = strdup(real);
    if (file == NULL) {
        cg_set_err(err, "%s: out of memory", path);
        goto cleanup;
    }
    if (slash == real)
        slash[1] = '\0';   /* a file in / */
    else
        *slash = '\0';
    rc = cg_conf_load_mem_flags(path, real, buf, len, 0, out, err);
    if (rc == CG_OK) {
        free((*out)->file);
        (*out)->file = file;
    } else {
        free(file);
    }
cleanup:
    if (fd >= 0)
        close(fd);
    free(real);
    free(buf);
    return rc;
}
