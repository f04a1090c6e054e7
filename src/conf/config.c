/* config.c: the snapshot at run time: lifetime, lookups, names. */
#include "conf/conf_internal.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "conf/values.h"

const struct cg_conf_enum_name cg_conf_client_cert_names[] = {
    {"ignore", CG_CLIENT_CERT_IGNORE}, {"accept", CG_CLIENT_CERT_ACCEPT},
    {"require", CG_CLIENT_CERT_REQUIRE}, {NULL, 0}};
const struct cg_conf_enum_name cg_conf_ssl_names[] = {
    {"allow", CG_SSL_ALLOW}, {"require", CG_SSL_REQUIRE}, {NULL, 0}};
const struct cg_conf_enum_name cg_conf_errors_names[] = {
    {"detailed-local", CG_ERRORS_DETAILED_LOCAL}, {"detailed", CG_ERRORS_DETAILED},
    {"friendly", CG_ERRORS_FRIENDLY}, {NULL, 0}};
const struct cg_conf_enum_name cg_conf_log_format_names[] = {
    {"w3c", CG_LOG_W3C}, {"combined", CG_LOG_COMBINED}, {"json", CG_LOG_JSON}, {NULL, 0}};
const struct cg_conf_enum_name cg_conf_log_level_names[] = {
    {"error", CG_LEVEL_ERROR}, {"warn", CG_LEVEL_WARN}, {"info", CG_LEVEL_INFO},
    {"debug", CG_LEVEL_DEBUG}, {NULL, 0}};
const struct cg_conf_enum_name cg_conf_ca_list_names[] = {
    {"roots", CG_CA_LIST_ROOTS}, {"empty", CG_CA_LIST_EMPTY}, {NULL, 0}};
const struct cg_conf_enum_name cg_conf_revocation_mode_names[] = {
    {"off", CG_CONF_REVOCATION_OFF}, {"crl", CG_CONF_REVOCATION_CRL},
    {"ocsp", CG_CONF_REVOCATION_OCSP}, {"ocsp+crl", CG_CONF_REVOCATION_OCSP_CRL}, {NULL, 0}};
const struct cg_conf_enum_name cg_conf_scope_names[] = {
    {"leaf", CG_SCOPE_LEAF}, {"chain", CG_SCOPE_CHAIN}, {NULL, 0}};
const struct cg_conf_enum_name cg_conf_on_unknown_names[] = {
    {"deny", CG_ON_UNKNOWN_DENY}, {"allow", CG_ON_UNKNOWN_ALLOW}, {NULL, 0}};
const struct cg_conf_enum_name cg_conf_ec_key_decoding_names[] = {
    {"builtin", CG_EC_KEYS_BUILTIN}, {"provider", CG_EC_KEYS_PROVIDER}, {NULL, 0}};
const struct cg_conf_enum_name cg_conf_key_schedule_names[] = {
    {"builtin", CG_KEY_SCHEDULE_BUILTIN}, {"openssl", CG_KEY_SCHEDULE_OPENSSL}, {NULL, 0}};
const struct cg_conf_enum_name cg_conf_key_exchange_names[] = {
    {"builtin", CG_KEY_EXCHANGE_BUILTIN}, {"openssl", CG_KEY_EXCHANGE_OPENSSL}, {NULL, 0}};
const struct cg_conf_enum_name cg_conf_purpose_names[] = {
    {"client", CG_PURPOSE_CLIENT}, {"server", CG_PURPOSE_SERVER}, {"any", CG_PURPOSE_ANY},
    {NULL, 0}};
const struct cg_conf_enum_name cg_conf_handler_names[] = {
    {"static", CG_HANDLER_STATIC}, {"certificate-info", CG_HANDLER_CERTIFICATE_INFO}, {NULL, 0}};
const struct cg_conf_enum_name cg_conf_symlinks_names[] = {
    {"refuse", 0}, {"follow", 1}, {NULL, 0}};

const char *cg_conf_enum_to_name(const struct cg_conf_enum_name *t, int value)
{
    for (; t->name != NULL; t++) {
        if (t->value == value)
            return t->name;
    }
    return "?";
}

const char *cg_conf_client_cert_name(cg_client_cert_mode_t m)
{
    return cg_conf_enum_to_name(cg_conf_client_cert_names, (int)m);
}
const char *cg_conf_handler_name(cg_handler_t h)
{
    return cg_conf_enum_to_name(cg_conf_handler_names, (int)h);
}
const char *cg_conf_ssl_name(cg_ssl_mode_t m)
{
    return cg_conf_enum_to_name(cg_conf_ssl_names, (int)m);
}
const char *cg_conf_errors_name(cg_errors_mode_t m)
{
    return cg_conf_enum_to_name(cg_conf_errors_names, (int)m);
}
const char *cg_conf_log_format_name(cg_log_format_t f)
{
    return cg_conf_enum_to_name(cg_conf_log_format_names, (int)f);
}
const char *cg_conf_log_level_name(cg_log_level_t l)
{
    return cg_conf_enum_to_name(cg_conf_log_level_names, (int)l);
}
const char *cg_conf_ca_list_name(cg_ca_list_t l)
{
    return cg_conf_enum_to_name(cg_conf_ca_list_names, (int)l);
}
const char *cg_conf_revocation_mode_name(cg_conf_revocation_mode_t m)
{
    return cg_conf_enum_to_name(cg_conf_revocation_mode_names, (int)m);
}
const char *cg_conf_scope_name(cg_revocation_scope_t s)
{
    return cg_conf_enum_to_name(cg_conf_scope_names, (int)s);
}
const char *cg_conf_on_unknown_name(cg_on_unknown_t o)
{
    return cg_conf_enum_to_name(cg_conf_on_unknown_names, (int)o);
}
const char *cg_conf_purpose_name(cg_purpose_t p)
{
    return cg_conf_enum_to_name(cg_conf_purpose_names, (int)p);
}
const char *cg_conf_ec_key_decoding_name(cg_ec_key_decoding_t m)
{
    return cg_conf_enum_to_name(cg_conf_ec_key_decoding_names, (int)m);
}
const char *cg_conf_key_schedule_name(cg_key_schedule_t m)
{
    return cg_conf_enum_to_name(cg_conf_key_schedule_names, (int)m);
}
const char *cg_conf_key_exchange_name(cg_key_exchange_t m)
{
    return cg_conf_enum_to_name(cg_conf_key_exchange_names, (int)m);
}

static void free_site(struct cg_conf_site *s)
{
    free(s->name);
    for (size_t i = 0; i < s->n_hostnames; i++)
        free(s->hostnames[i]);
    free(s->hostnames);
    free(s->root);
    for (size_t i = 0; i < s->n_locations; i++)
        free(s->locations[i].path);
    free(s->locations);
    for (size_t i = 0; i < s->n_bindings; i++) {
        free(s->bindings[i].listen);
        free(s->bindings[i].certificate);
        free(s->bindings[i].key);
    }
    free(s->bindings);
    free(s->revocation.ocsp_responder);
}

void cg_conf_free(struct cg_conf *c)
{
    if (c == NULL)
        return;
    free(c->file);
    free(c->stores);
    free(c->state_dir);
    free(c->access_log.path);
    free(c->error_log.path);
    free(c->revocation.ocsp_responder);
    free(c->admin.listen);
    for (size_t i = 0; i < c->n_sites; i++)
        free_site(&c->sites[i]);
    free(c->sites);
    for (size_t i = 0; i < c->n_listeners; i++) {
        free(c->listeners[i].sites);
        free(c->listeners[i].hosts);
    }
    free(c->listeners);
    for (size_t i = 0; i < c->n_warnings; i++)
        free(c->warnings[i]);
    free(c->warnings);
    free(c);
}

struct cg_conf *cg_conf_ref(struct cg_conf *c)
{
    if (c != NULL)
        __atomic_fetch_add(&c->refcount, 1, __ATOMIC_RELAXED);
    return c;
}

void cg_conf_unref(struct cg_conf *c)
{
    /* acq_rel: the last holder must see every other holder's reads done
     * before it frees. */
    if (c != NULL && __atomic_sub_fetch(&c->refcount, 1, __ATOMIC_ACQ_REL) == 0)
        cg_conf_free(c);
}

const struct cg_conf_listener *cg_conf_find_listener(const struct cg_conf *c,
                                                     const struct sockaddr *addr,
                                                     socklen_t addr_len)
{
    if (c == NULL || addr == NULL)
        return NULL;
    for (size_t i = 0; i < c->n_listeners; i++) {
        const struct cg_conf_listener *l = &c->listeners[i];
        if (cg_conf_addr_equal((const struct sockaddr *)&l->addr, l->addr_len, addr, addr_len))
            return l;
    }
    return NULL;
}

/* Compares a candidate (not NUL-terminated, any case) with a stored
 * lower-case name, in the order the hosts array is sorted by. */
static int host_cmp(const char *host, size_t len, const char *name)
{
    size_t i = 0;

    for (; i < len && name[i] != '\0'; i++) {
        unsigned char a = (unsigned char)host[i], b = (unsigned char)name[i];
        if (a >= 'A' && a <= 'Z')
            a = (unsigned char)(a - 'A' + 'a');
        if (a != b)
            return a < b ? -1 : 1;
    }
    if (i == len)
        return name[i] == '\0' ? 0 : -1;
    return 1;
}

const struct cg_conf_site *cg_conf_find_site(const struct cg_conf *c,
                                             const struct cg_conf_binding *on,
                                             const char *host, size_t host_len)
{
    const struct cg_conf_listener *l = NULL;

    if (c == NULL || on == NULL)
        return NULL;
    /* The fast path: `on` belongs to this snapshot. */
    if (on->listener < c->n_listeners &&
        cg_conf_addr_equal((const struct sockaddr *)&c->listeners[on->listener].addr,
                           c->listeners[on->listener].addr_len,
                           (const struct sockaddr *)&on->addr, on->addr_len))
        l = &c->listeners[on->listener];
    else
        l = cg_conf_find_listener(c, (const struct sockaddr *)&on->addr, on->addr_len);
    if (l == NULL)
        return NULL;

    if (host != NULL && host_len > 0) {
        /* Host may carry a port ("a.example:8443", "[::1]:8443"); SNI never does. */
        if (host[0] == '[') {
            const char *close = memchr(host, ']', host_len);
            if (close != NULL)
                host_len = (size_t)(close - host) + 1;
        } else {
            const char *colon = memchr(host, ':', host_len);
            if (colon != NULL && memchr(colon + 1, ':', host_len - (size_t)(colon - host) - 1) == NULL)
                host_len = (size_t)(colon - host);
        }
        if (host_len > 0 && host[host_len - 1] == '.')
            host_len--;
        size_t lo = 0, hi = l->n_hosts;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int cmp = host_cmp(host, host_len, l->hosts[mid].name);
            if (cmp == 0)
                return l->sites[l->hosts[mid].entry].site;
            if (cmp < 0)
                hi = mid;
            else
                lo = mid + 1;
        }
    }
    return l->default_entry >= 0 ? l->sites[l->default_entry].site : NULL;
}

const struct cg_conf_location *cg_conf_find_location(const struct cg_conf_site *s,
                                                     const char *path, size_t path_len)
{
    if (s == NULL || path == NULL)
        return NULL;
    /* Longest first, so the first match is the most specific one. */
    for (size_t i = 0; i < s->n_locations; i++) {
        const struct cg_conf_location *loc = &s->locations[i];
        size_t n = loc->path_len;
        if (n > path_len || memcmp(loc->path, path, n) != 0)
            continue;
        if (n == path_len || path[n] == '/' || loc->path[n - 1] == '/')
            return loc;
    }
    return NULL;
}
