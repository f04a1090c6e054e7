/*
 * The config loader: every key's good and bad values, positions in
 * messages, merging, listeners, lookups, bounds on hostile input.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>

#include <cmocka.h>

#include "conf/config.h"
#include "conf/values.h"
#include "core/common.h"

/* One site on a plain port: appended to snippets that test something else. */
#define MIN_SITES "sites: [{name: a, bindings: [{listen: ':80'}]}]\n"

static struct cg_conf *load_flags(const char *yaml, unsigned flags, char **err)
{
    struct cg_conf *c = NULL;
    int rc = cg_conf_load_mem_flags("t.yaml", "/base", yaml, strlen(yaml), flags, &c, err);
    if (rc == CG_OK)
        assert_non_null(c);
    else
        assert_null(c);
    return c;
}

static struct cg_conf *load_ok(const char *yaml)
{
    char *err = NULL;
    struct cg_conf *c = load_flags(yaml, CG_CONF_NO_FILE_CHECKS, &err);
    if (c == NULL)
        fail_msg("expected to load, got: %s\n--- yaml ---\n%s", err, yaml);
    assert_null(err);
    return c;
}

/* Loads expecting failure; returns the message (caller frees). */
static char *load_err(const char *yaml)
{
    char *err = NULL;
    struct cg_conf *c = load_flags(yaml, CG_CONF_NO_FILE_CHECKS, &err);
    if (c != NULL) {
        cg_conf_unref(c);
        fail_msg("expected an error for:\n%s", yaml);
    }
    assert_non_null(err);
    return err;
}

/* ---- defaults ------------------------------------------------------------- */

static void test_defaults(void **state)
{
    struct cg_conf *c = load_ok(MIN_SITES);
    struct cg_limits l;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    assert_string_equal(c->file, "/base/t.yaml");
    assert_int_equal(c->workers, cpus < 1 ? 1 : cpus > 256 ? 256 : cpus);
    assert_null(c->stores);
    assert_string_equal(c->state_dir, "/base/state");
    assert_null(c->access_log.path);
    assert_int_equal(c->access_log.format, CG_LOG_W3C);
    assert_null(c->error_log.path);
    assert_int_equal(c->error_log.level, CG_LEVEL_INFO);
    assert_int_equal(c->errors, CG_ERRORS_DETAILED_LOCAL);
    assert_int_equal(c->purpose, CG_PURPOSE_CLIENT);
    assert_int_equal(c->ec_key_decoding, CG_EC_KEYS_BUILTIN);
    assert_int_equal(c->key_schedule, CG_KEY_SCHEDULE_BUILTIN);
    assert_int_equal(c->key_exchange, CG_KEY_EXCHANGE_BUILTIN);
    assert_int_equal(c->limits.header_bytes, 16384);
    assert_int_equal(c->limits.headers, 100);
    assert_int_equal(c->limits.body_bytes, 10485760);
    assert_int_equal(c->limits.handshake_timeout_ms, 10000);
    assert_int_equal(c->limits.header_timeout_ms, 10000);
    assert_int_equal(c->limits.body_timeout_ms, 30000);
    assert_int_equal(c->limits.keepalive_timeout_ms, 75000);
    assert_int_equal(c->limits.send_timeout_ms, 60000);
    assert_int_equal(c->limits.max_connections, 10000);
    assert_int_equal(c->limits.max_requests_per_connection, 1000);
    assert_int_equal(c->limits.shutdown_timeout_ms, 10000);
    assert_int_equal(c->limits.client_ca_list_warn, 16384);
    assert_int_equal(c->limits.client_ca_list_max, 65536);
    assert_int_equal(c->limits.verification_cache_entries, 10000);
    assert_int_equal(c->limits.verification_cache_bytes, 32u << 20);
    assert_int_equal(c->limits.tls_session_cache, 20480);
    assert_int_equal(c->limits.verification_cache_max_age_s, 3600);
    assert_int_equal(c->limits.verification_cache_revocation_age_s, 300);
    assert_int_equal(c->limits.verification_cache_unknown_age_s, 0);
    assert_int_equal(c->limits.file_cache_entries, 1000);
    assert_int_equal(c->limits.file_cache_bytes, 16u << 20);
    assert_int_equal(c->limits.file_cache_max_file, 64u << 10);
    assert_int_equal(c->limits.file_cache_valid_ms, 1000);
    cg_limits_init(&l);
    assert_memory_equal(&l, &c->limits, sizeof(l));

    assert_int_equal(c->revocation.mode, CG_CONF_REVOCATION_OFF);
    assert_int_equal(c->revocation.scope, CG_SCOPE_CHAIN);
    assert_int_equal(c->revocation.on_unknown, CG_ON_UNKNOWN_DENY);
    assert_int_equal(c->revocation.stale_grace_s, 0);
    assert_int_equal(c->revocation.clock_skew_s, 300);
    assert_int_equal(c->revocation.timeout_ms, 5000);
    assert_int_equal(c->revocation.refresh_s, 3600);
    assert_null(c->revocation.ocsp_responder);
    assert_int_equal(c->revocation.max_crl_age_s, 0);
    assert_int_equal(c->revocation.max_crl_bytes, 64u * 1024 * 1024);
    assert_int_equal(c->policy.revocation, CG_REVOCATION_OFF);

    assert_int_equal(c->n_sites, 1);
    const struct cg_conf_site *s = &c->sites[0];
    assert_string_equal(s->name, "a");
    assert_int_equal(s->n_hostnames, 0);
    assert_null(s->root);
    assert_false(s->follow_symlinks);
    assert_int_equal(s->ssl, CG_SSL_ALLOW);
    assert_int_equal(s->client_certificates, CG_CLIENT_CERT_IGNORE);
    assert_int_equal(s->n_locations, 0);
    assert_int_equal(s->n_bindings, 1);
    assert_false(s->bindings[0].tls);
    assert_false(s->bindings[0].negotiate_client_certificate);
    assert_int_equal(s->bindings[0].ca_list, CG_CA_LIST_ROOTS);
    assert_int_equal(c->n_listeners, 1);
    assert_int_equal(c->listeners[0].default_entry, 0);
    assert_int_equal(c->n_warnings, 0);
    cg_conf_unref(c);
}

/* ---- every key: a good value ------------------------------------------------ */

struct good_case {
    const char *yaml;             /* MIN_SITES is appended unless it has sites */
    size_t off, width;            /* field of struct cg_conf */
    uint64_t want;
};

#define AT(field) offsetof(struct cg_conf, field), sizeof(((struct cg_conf *)0)->field)

static const struct good_case good_cases[] = {
    {"workers: 7", AT(workers), 7},
    {"workers: 256", AT(workers), 256},
    {"limits: {header_bytes: 32k}", AT(limits.header_bytes), 32768},
    {"limits: {header_bytes: 1024}", AT(limits.header_bytes), 1024},
    {"limits: {headers: 50}", AT(limits.headers), 50},
    {"limits: {body_bytes: 1G}", AT(limits.body_bytes), 1ull << 30},
    {"limits: {body_bytes: 0}", AT(limits.body_bytes), 0},
    {"limits: {body_bytes: 3m}", AT(limits.body_bytes), 3u << 20},
    {"limits: {handshake_timeout: 500ms}", AT(limits.handshake_timeout_ms), 500},
    {"limits: {header_timeout: 2m}", AT(limits.header_timeout_ms), 120000},
    {"limits: {body_timeout: 1h}", AT(limits.body_timeout_ms), 3600000},
    {"limits: {keepalive_timeout: 0s}", AT(limits.keepalive_timeout_ms), 0},
    {"limits: {send_timeout: 1d}", AT(limits.send_timeout_ms), 86400000},
    {"limits: {send_timeout: 45}", AT(limits.send_timeout_ms), 45000},
    {"limits: {max_connections: 20}", AT(limits.max_connections), 20},
    {"limits: {max_requests_per_connection: 0}", AT(limits.max_requests_per_connection), 0},
    {"limits: {shutdown_timeout: 3s}", AT(limits.shutdown_timeout_ms), 3000},
    {"limits: {client_ca_list_warn: 4k}", AT(limits.client_ca_list_warn), 4096},
    {"limits: {client_ca_list_max: 0}", AT(limits.client_ca_list_max), 0},
    {"limits: {verification_cache_entries: 0}", AT(limits.verification_cache_entries), 0},
    {"limits: {verification_cache_entries: 10000000}", AT(limits.verification_cache_entries),
     10000000},
    {"limits: {verification_cache_bytes: 1M}", AT(limits.verification_cache_bytes), 1u << 20},
    {"limits: {verification_cache_bytes: 64G}", AT(limits.verification_cache_bytes), 64ull << 30},
    {"limits: {tls_session_cache: 1}", AT(limits.tls_session_cache), 1},
    {"limits: {verification_cache_max_age: 1s}", AT(limits.verification_cache_max_age_s), 1},
    {"limits: {verification_cache_max_age: 30d}", AT(limits.verification_cache_max_age_s),
     30 * 86400},
    {"limits: {verification_cache_revocation_age: 90s}",
     AT(limits.verification_cache_revocation_age_s), 90},
    {"limits: {verification_cache_unknown_age: 0s}", AT(limits.verification_cache_unknown_age_s),
     0},
    {"limits: {verification_cache_unknown_age: 1h}", AT(limits.verification_cache_unknown_age_s),
     3600},
    {"limits: {tls_session_cache: 1048576}", AT(limits.tls_session_cache), 1048576},
    {"limits: {file_cache_entries: 0}", AT(limits.file_cache_entries), 0},
    {"limits: {file_cache_entries: 1000000}", AT(limits.file_cache_entries), 1000000},
    {"limits: {file_cache_bytes: 64k}", AT(limits.file_cache_bytes), 64u << 10},
    {"limits: {file_cache_bytes: 64G}", AT(limits.file_cache_bytes), 64ull << 30},
    {"limits: {file_cache_max_file: 1}", AT(limits.file_cache_max_file), 1},
    {"limits: {file_cache_max_file: 64k}", AT(limits.file_cache_max_file), 64u << 10},
    {"limits: {file_cache_valid: 0s}", AT(limits.file_cache_valid_ms), 0},
    {"limits: {file_cache_valid: 250ms}", AT(limits.file_cache_valid_ms), 250},
    {"limits: {file_cache_valid: 1h}", AT(limits.file_cache_valid_ms), 3600000},
    {"errors: detailed", AT(errors), CG_ERRORS_DETAILED},
    {"errors: friendly", AT(errors), CG_ERRORS_FRIENDLY},
    {"errors: detailed-local", AT(errors), CG_ERRORS_DETAILED_LOCAL},
    {"access_log: {format: json}", AT(access_log.format), CG_LOG_JSON},
    {"access_log: {format: combined}", AT(access_log.format), CG_LOG_COMBINED},
    {"error_log: {level: debug}", AT(error_log.level), CG_LEVEL_DEBUG},
    {"error_log: {level: error}", AT(error_log.level), CG_LEVEL_ERROR},
    {"error_log: {level: warn}", AT(error_log.level), CG_LEVEL_WARN},
    {"client_certificate_purpose: server", AT(purpose), CG_PURPOSE_SERVER},
    {"client_certificate_purpose: any", AT(purpose), CG_PURPOSE_ANY},
    {"client_certificate_purpose: any", AT(policy.purpose), CG_PURPOSE_ANY},
    {"ec_key_decoding: provider", AT(ec_key_decoding), CG_EC_KEYS_PROVIDER},
    {"ec_key_decoding: builtin", AT(ec_key_decoding), CG_EC_KEYS_BUILTIN},
    {"tls_key_schedule: openssl", AT(key_schedule), CG_KEY_SCHEDULE_OPENSSL},
    {"tls_key_schedule: builtin", AT(key_schedule), CG_KEY_SCHEDULE_BUILTIN},
    {"tls_key_exchange: openssl", AT(key_exchange), CG_KEY_EXCHANGE_OPENSSL},
    {"tls_key_exchange: builtin", AT(key_exchange), CG_KEY_EXCHANGE_BUILTIN},
    {"revocation: {mode: crl}", AT(revocation.mode), CG_CONF_REVOCATION_CRL},
    {"revocation: {mode: crl}", AT(policy.revocation), CG_REVOCATION_CRL},
    {"revocation: {mode: ocsp}", AT(revocation.mode), CG_CONF_REVOCATION_OCSP},
    {"revocation: {mode: ocsp}", AT(policy.revocation), CG_REVOCATION_OFF},
    {"revocation: {mode: ocsp+crl}", AT(revocation.mode), CG_CONF_REVOCATION_OCSP_CRL},
    {"revocation: {mode: ocsp+crl}", AT(policy.revocation), CG_REVOCATION_CRL},
    {"revocation: {scope: leaf}", AT(revocation.scope), CG_SCOPE_LEAF},
    {"revocation: {scope: leaf}", AT(policy.scope), CG_SCOPE_LEAF},
    {"revocation: {on_unknown: allow}", AT(policy.on_unknown), CG_ON_UNKNOWN_ALLOW},
    {"revocation: {stale_grace: 2h}", AT(revocation.stale_grace_s), 7200},
    {"revocation: {clock_skew: 0s}", AT(revocation.clock_skew_s), 0},
    {"revocation: {clock_skew: 90s}", AT(revocation.clock_skew_s), 90},
    {"revocation: {clock_skew: 1h}", AT(revocation.clock_skew_s), 3600},
    {"revocation: {timeout: 250ms}", AT(revocation.timeout_ms), 250},
    {"revocation: {refresh: 30m}", AT(revocation.refresh_s), 1800},
    {"revocation: {max_crl_age: 7d}", AT(revocation.max_crl_age_s), 604800},
    {"revocation: {max_crl_age: 7d}", AT(policy.max_crl_age), 604800},
    {"admin: {listen: '127.0.0.1:9100'}", AT(admin.max_sites), 256},
    {"admin: {max_sites: 8}", AT(admin.max_sites), 8},
    {"admin: {max_sites: 65536}", AT(admin.max_sites), 65536},
    /* Not a clash: another port, another family (v6-only sockets). */
    {"admin: {listen: ':81', max_sites: 1}", AT(admin.max_sites), 1},
    {"admin: {listen: '[::]:80', max_sites: 2}", AT(admin.max_sites), 2},
    {"revocation: {max_crl_size: 16k}", AT(revocation.max_crl_bytes), 16384},
    {"revocation: {max_crl_size: 1G}", AT(revocation.max_crl_bytes), 1u << 30},
};

static uint64_t read_field(const void *base, size_t off, size_t width)
{
    const char *p = (const char *)base + off;
    switch (width) {
    case 1: { uint8_t v; memcpy(&v, p, 1); return v; }
    case 4: { uint32_t v; memcpy(&v, p, 4); return v; }
    default: { uint64_t v; memcpy(&v, p, 8); return v; }
    }
}

static void test_good_values(void **state)
{
    for (size_t i = 0; i < sizeof(good_cases) / sizeof(good_cases[0]); i++) {
        const struct good_case *g = &good_cases[i];
        char yaml[512];
        snprintf(yaml, sizeof(yaml), "%s\n%s", g->yaml, MIN_SITES);
        struct cg_conf *c = load_ok(yaml);
        uint64_t got = read_field(c, g->off, g->width);
        if (got != g->want)
            fail_msg("%s: got %llu, want %llu", g->yaml, (unsigned long long)got,
                     (unsigned long long)g->want);
        cg_conf_unref(c);
    }
}

/* The admin listener: off by default; port 0 on both sides is no clash
 * (each gets an ephemeral port of its own). */
static void test_admin(void **state)
{
    struct cg_conf *c = load_ok(MIN_SITES);
    const struct sockaddr_in *sin;

    (void)state;
    assert_null(c->admin.listen);
    assert_int_equal(c->admin.max_sites, 256);
    cg_conf_unref(c);
    c = load_ok("admin: {listen: '127.0.0.1:0', max_sites: 3}\n"
                "sites: [{name: a, bindings: [{listen: '127.0.0.1:0'}]}]\n");
    assert_string_equal(c->admin.listen, "127.0.0.1:0");
    sin = (const struct sockaddr_in *)&c->admin.addr;
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);
    assert_int_equal(sin->sin_port, 0);
    assert_int_equal(c->admin.max_sites, 3);
    assert_int_equal(c->n_listeners, 1);
    cg_conf_unref(c);
}

static void test_good_strings(void **state)
{
    struct cg_conf *c = load_ok(
        "stores: ./stores\n"
        "state_dir: /var/lib/certgate\n"
        "access_log: { path: logs/access.log, format: w3c }\n"
        "error_log: { path: '-', level: info }\n"
        "revocation: { ocsp_responder: 'http://ocsp.example/' }\n"
        "sites:\n"
        "  - name: main\n"
        "    hostnames: [LocalHost, www.Example.com.]\n"
        "    root: ./www\n"
        "    symlinks: follow\n"
        "    bindings:\n"
        "      - { listen: '127.0.0.1:8443', tls: true, certificate: server.pem, key: /k/server.key,\n"
        "          client_ca_list: empty }\n");
    assert_string_equal(c->stores, "/base/stores");
    assert_string_equal(c->state_dir, "/var/lib/certgate");
    assert_string_equal(c->access_log.path, "/base/logs/access.log");
    assert_null(c->error_log.path);
    assert_string_equal(c->revocation.ocsp_responder, "http://ocsp.example/");
    const struct cg_conf_site *s = &c->sites[0];
    assert_int_equal(s->n_hostnames, 2);
    assert_string_equal(s->hostnames[0], "localhost");
    assert_string_equal(s->hostnames[1], "www.example.com");
    assert_string_equal(s->root, "/base/www");
    assert_true(s->follow_symlinks);
    const struct cg_conf_binding *b = &s->bindings[0];
    assert_string_equal(b->listen, "127.0.0.1:8443");
    assert_true(b->tls);
    assert_string_equal(b->certificate, "/base/server.pem");
    assert_string_equal(b->key, "/k/server.key");
    assert_int_equal(b->ca_list, CG_CA_LIST_EMPTY);
    const struct sockaddr_in *sin = (const struct sockaddr_in *)&b->addr;
    assert_int_equal(sin->sin_family, AF_INET);
    assert_int_equal(ntohs(sin->sin_port), 8443);
    assert_int_equal(ntohl(sin->sin_addr.s_addr), 0x7f000001);
    cg_conf_unref(c);
}

/* ---- every key: a bad value, with the exact message --------------------------- */

struct bad_case {
    const char *yaml;
    const char *want;             /* the whole message, or a prefix ending in '*' */
};

static const struct bad_case bad_cases[] = {
    {"admin: {listen: '127.0.0.1:80'}\n" MIN_SITES,
     "t.yaml:1:17: admin.listen: '127.0.0.1:80' clashes with site 'a' listening on ':80' "
     "(line 2): the admin listener needs an address of its own"},
    {"admin:\n  listen: '*:443'\nsites: [{name: a, bindings: [{listen: ':80'}]},\n"
     "        {name: b, bindings: [{listen: '10.1.2.3:443'}]}]\n",
     "t.yaml:2:11: admin.listen: '*:443' clashes with site 'b' listening on '10.1.2.3:443' "
     "(line 4): the admin listener needs an address of its own"},
    {"admin: {listen: 'nowhere'}\n" MIN_SITES,
     "t.yaml:1:17: admin.listen: expected an address like 127.0.0.1:8443, [::1]:8443, :8443 or "
     "*:8443; got 'nowhere'"},
    {"admin: {max_sites: 0}\n" MIN_SITES,
     "t.yaml:1:20: admin.max_sites: expected a whole number from 1 to 65536; got '0'"},
    {"admin: {port: 9100}\n" MIN_SITES,
     "t.yaml:1:9: admin: unknown key 'port'; valid keys: listen, max_sites"},
    {"workers: 0\n" MIN_SITES,
     "t.yaml:1:10: workers: expected auto or a number from 1 to 256; got '0'"},
    {"workers: 257\n" MIN_SITES,
     "t.yaml:1:10: workers: expected auto or a number from 1 to 256; got '257'"},
    {"workers: many\n" MIN_SITES,
     "t.yaml:1:10: workers: expected auto or a number from 1 to 256; got 'many'"},
    {"workers:\n" MIN_SITES,
     "t.yaml:1:9: workers: expected auto or a number from 1 to 256; got nothing"},
    {"stores: [a]\n" MIN_SITES, "t.yaml:1:9: stores: expected a path; got a sequence"},
    {"stores: ''\n" MIN_SITES, "t.yaml:1:9: stores: expected a path; got ''"},
    {"state_dir: {a: 1}\n" MIN_SITES, "t.yaml:1:12: state_dir: expected a path; got a mapping"},
    {"access_log: {format: xml}\n" MIN_SITES,
     "t.yaml:1:22: access_log.format: expected one of w3c | combined | json; got 'xml'"},
    {"access_log: {path: ''}\n" MIN_SITES,
     "t.yaml:1:20: access_log.path: expected a file path, or - for stderr; got ''"},
    {"access_log: logs/a.log\n" MIN_SITES,
     "t.yaml:1:13: access_log: expected a mapping (path, format); got 'logs/a.log'"},
    {"error_log: {level: verbose}\n" MIN_SITES,
     "t.yaml:1:20: error_log.level: expected one of error | warn | info | debug; got 'verbose'"},
    {"error_log: {format: w3c}\n" MIN_SITES,
     "t.yaml:1:13: error_log: unknown key 'format'; valid keys: path, level"},
    {"limits: { header_timeout: ten }\n" MIN_SITES,
     "t.yaml:1:27: limits.header_timeout: expected a duration like 10s, 500ms, 2m; got 'ten'"},
    {"limits:\n  header_bytes: 100\n" MIN_SITES,
     "t.yaml:2:17: limits.header_bytes: expected a size like 16384, 16k, 10M, 1G from 1k to 1M; got '100'"},
    {"limits: {header_bytes: 16KB}\n" MIN_SITES,
     "t.yaml:1:24: limits.header_bytes: expected a size like 16384, 16k, 10M, 1G; got '16KB'"},
    {"limits: {headers: -1}\n" MIN_SITES,
     "t.yaml:1:19: limits.headers: expected a whole number; got '-1'"},
    {"limits: {headers: 0}\n" MIN_SITES,
     "t.yaml:1:19: limits.headers: expected a whole number from 1 to 10000; got '0'"},
    {"limits: {body_bytes: 99999999999999999999999}\n" MIN_SITES,
     "t.yaml:1:22: limits.body_bytes: expected a size like 16384, 16k, 10M, 1G from 0 to 1024G; "
     "got '99999999999999999999999'"},
    {"limits: {handshake_timeout: 0s}\n" MIN_SITES,
     "t.yaml:1:29: limits.handshake_timeout: expected a duration like 10s, 500ms, 2m from 1ms to 1d; got '0s'"},
    {"limits: {body_timeout: 2d}\n" MIN_SITES,
     "t.yaml:1:24: limits.body_timeout: expected a duration like 10s, 500ms, 2m from 1ms to 1d; got '2d'"},
    {"limits: {keepalive_timeout: 1.5s}\n" MIN_SITES,
     "t.yaml:1:29: limits.keepalive_timeout: expected a duration like 10s, 500ms, 2m; got '1.5s'"},
    {"limits: {send_timeout: 10 s}\n" MIN_SITES,
     "t.yaml:1:24: limits.send_timeout: expected a duration like 10s, 500ms, 2m; got '10 s'"},
    {"limits: {max_connections: 1e3}\n" MIN_SITES,
     "t.yaml:1:27: limits.max_connections: expected a whole number; got '1e3'"},
    {"limits: {max_requests_per_connection: 4294967296}\n" MIN_SITES,
     "t.yaml:1:39: limits.max_requests_per_connection: expected a whole number from 0 to "
     "4294967295; got '4294967296'"},
    {"limits: {verification_cache_entries: 10000001}\n" MIN_SITES,
     "t.yaml:1:38: limits.verification_cache_entries: expected a whole number from 0 to "
     "10000000; got '10000001'"},
    {"limits: {verification_cache_entries: lots}\n" MIN_SITES,
     "t.yaml:1:38: limits.verification_cache_entries: expected a whole number; got 'lots'"},
    {"limits: {verification_cache_bytes: 512k}\n" MIN_SITES,
     "t.yaml:1:36: limits.verification_cache_bytes: expected a size like 16384, 16k, 10M, 1G "
     "from 1M to 64G; got '512k'"},
    {"limits: {verification_cache_bytes: 65G}\n" MIN_SITES,
     "t.yaml:1:36: limits.verification_cache_bytes: expected a size like 16384, 16k, 10M, 1G "
     "from 1M to 64G; got '65G'"},
    {"limits: {verification_cache_max_age: 0s}\n" MIN_SITES,
     "t.yaml:1:38: limits.verification_cache_max_age: expected a duration in whole seconds like "
     "0s, 30m, 1h from 1s to 30d; got '0s'"},
    {"limits: {verification_cache_revocation_age: 31d}\n" MIN_SITES,
     "t.yaml:1:45: limits.verification_cache_revocation_age: expected a duration in whole "
     "seconds like 0s, 30m, 1h from 1s to 30d; got '31d'"},
    {"limits: {verification_cache_unknown_age: 500ms}\n" MIN_SITES,
     "t.yaml:1:42: limits.verification_cache_unknown_age: expected a duration in whole seconds "
     "like 0s, 30m, 1h; got '500ms'"},
    {"limits: {shutdown_timeout: forever}\n" MIN_SITES,
     "t.yaml:1:28: limits.shutdown_timeout: expected a duration like 10s, 500ms, 2m; got 'forever'"},
    {"limits:\n  header_timout: 10s\n" MIN_SITES,
     "t.yaml:2:3: limits: unknown key 'header_timout' (did you mean 'header_timeout'?); valid keys: "
     "header_bytes, headers, body_bytes, handshake_timeout, header_timeout, body_timeout, "
     "keepalive_timeout, send_timeout, max_connections, max_requests_per_connection, "
     "shutdown_timeout, client_ca_list_warn, client_ca_list_max, "
     "verification_cache_entries, verification_cache_bytes, verification_cache_max_age, "
     "verification_cache_revocation_age, verification_cache_unknown_age, ecdsa_key_tables, "
     "ecdsa_key_table_uses, decoded_certificates, decoded_certificate_max_bytes, tls_session_cache, "
     "file_cache_entries, file_cache_bytes, file_cache_max_file, file_cache_valid"},
    {"limits: {tls_session_cache: 0}\n" MIN_SITES,
     "t.yaml:1:29: limits.tls_session_cache: expected a whole number from 1 to 1048576; got '0'"},
    {"limits: {tls_session_cache: 1048577}\n" MIN_SITES,
     "t.yaml:1:29: limits.tls_session_cache: expected a whole number from 1 to 1048576; got "
     "'1048577'"},
    {"limits: {tls_session_cache: 2k}\n" MIN_SITES,
     "t.yaml:1:29: limits.tls_session_cache: expected a whole number; got '2k'"},
    {"limits: {file_cache_entries: 1000001}\n" MIN_SITES,
     "t.yaml:1:30: limits.file_cache_entries: expected a whole number from 0 to 1000000; got "
     "'1000001'"},
    {"limits: {file_cache_bytes: 32k}\n" MIN_SITES,
     "t.yaml:1:28: limits.file_cache_bytes: expected a size like 16384, 16k, 10M, 1G from 64k "
     "to 64G; got '32k'"},
    {"limits: {file_cache_max_file: 0}\n" MIN_SITES,
     "t.yaml:1:31: limits.file_cache_max_file: expected a size like 16384, 16k, 10M, 1G from 1 "
     "to 64k; got '0'"},
    {"limits: {file_cache_max_file: 65537}\n" MIN_SITES,
     "t.yaml:1:31: limits.file_cache_max_file: expected a size like 16384, 16k, 10M, 1G from 1 "
     "to 64k; got '65537'"},
    {"limits: {file_cache_valid: 2h}\n" MIN_SITES,
     "t.yaml:1:28: limits.file_cache_valid: expected a duration like 10s, 500ms, 2m from 0s to "
     "1h; got '2h'"},
    {"errors: verbose\n" MIN_SITES,
     "t.yaml:1:9: errors: expected one of detailed-local | detailed | friendly; got 'verbose'"},
    {"client_certificate_purpose: email\n" MIN_SITES,
     "t.yaml:1:29: client_certificate_purpose: expected one of client | server | any; got 'email'"},
    {"ec_key_decoding: legacy\n" MIN_SITES,
     "t.yaml:1:18: ec_key_decoding: expected one of builtin | provider; got 'legacy'"},
    {"tls_key_schedule: provider\n" MIN_SITES,
     "t.yaml:1:19: tls_key_schedule: expected one of builtin | openssl; got 'provider'"},
    {"tls_key_exchange: fast\n" MIN_SITES,
     "t.yaml:1:19: tls_key_exchange: expected one of builtin | openssl; got 'fast'"},
    {"tls_key_exchange: [builtin]\n" MIN_SITES,
     "t.yaml:1:19: tls_key_exchange: expected one of builtin | openssl; got a sequence"},
    {"revocation: {mode: ocsp-crl}\n" MIN_SITES,
     "t.yaml:1:20: revocation.mode: expected one of off | crl | ocsp | ocsp+crl; got 'ocsp-crl' (did you mean 'ocsp+crl'?)"},
    {"revocation: {scope: root}\n" MIN_SITES,
     "t.yaml:1:21: revocation.scope: expected one of leaf | chain; got 'root'"},
    {"revocation: {on_unknown: maybe}\n" MIN_SITES,
     "t.yaml:1:26: revocation.on_unknown: expected one of deny | allow; got 'maybe'"},
    {"revocation: {stale_grace: 500ms}\n" MIN_SITES,
     "t.yaml:1:27: revocation.stale_grace: expected a duration in whole seconds like 0s, 30m, 1h; got '500ms'"},
    {"revocation: {clock_skew: 2h}\n" MIN_SITES,
     "t.yaml:1:26: revocation.clock_skew: expected a duration in whole seconds like 0s, 30m, 1h "
     "from 0s to 1h; got '2h'"},
    {"revocation: {timeout: 0}\n" MIN_SITES,
     "t.yaml:1:23: revocation.timeout: expected a duration like 10s, 500ms, 2m from 1ms to 5m; got '0'"},
    {"revocation: {refresh: 0s}\n" MIN_SITES,
     "t.yaml:1:23: revocation.refresh: expected a duration in whole seconds like 0s, 30m, 1h from 1s to 366d; got '0s'"},
    {"revocation: {ocsp_responder: 'ldap://x'}\n" MIN_SITES,
     "t.yaml:1:30: revocation.ocsp_responder: expected an http:// or https:// URL, or \"\" for "
     "the responder each certificate names; got 'ldap://x'"},
    {"revocation: {max_crl_age: soon}\n" MIN_SITES,
     "t.yaml:1:27: revocation.max_crl_age: expected a duration in whole seconds like 0s, 30m, 1h; got 'soon'"},
    {"revocation: {max_crl_size: 512}\n" MIN_SITES,
     "t.yaml:1:28: revocation.max_crl_size: expected a size like 16384, 16k, 10M, 1G from 1k to 1G; got '512'"},
    {"revocation: {mod: crl}\n" MIN_SITES,
     "t.yaml:1:14: revocation: unknown key 'mod' (did you mean 'mode'?); valid keys: mode, scope, "
     "on_unknown, stale_grace, clock_skew, timeout, refresh, ocsp_responder, max_crl_age, max_crl_size"},
    {"worker: 2\n" MIN_SITES,
     "t.yaml:1:1: unknown key 'worker' (did you mean 'workers'?); valid keys: workers, stores, "
     "state_dir, access_log, error_log, limits, errors, revocation, client_certificate_purpose, ec_key_decoding, "
     "tls_key_schedule, tls_key_exchange, admin, sites"},
    {"listen: ':80'\n" MIN_SITES, "t.yaml:1:1: unknown key 'listen'; valid keys: *"},
    {"workers: 2\nworkers: 3\n" MIN_SITES,
     "t.yaml:2:1: duplicate key 'workers' (first set at line 1, column 10)"},
    {"limits: {headers: 1, headers: 2}\n" MIN_SITES,
     "t.yaml:1:22: limits: duplicate key 'headers' (first set at line 1, column 19)"},
    {"[1, 2]\n", "t.yaml:1:1: expected a mapping (workers, stores, sites, ...); got a sequence"},
    {"workers: 2\n", "t.yaml:1:1: missing key 'sites' (workers, stores, sites, ...)"},
    {"sites: []\n", "t.yaml:1:8: sites: at least one site is required"},
    {"sites: {name: a}\n", "t.yaml:1:8: sites: expected a list of sites (- name: ...); got a mapping"},
    {"? [a]\n: 1\n" MIN_SITES, "t.yaml:1:3: expected a key name; got a sequence"},
    /* sites */
    {"sites:\n  - bindings: [{listen: ':80'}]\n",
     "t.yaml:2:5: sites[0]: missing key 'name' (name, hostnames, root, bindings, ...)"},
    {"sites:\n  - name: ''\n    bindings: [{listen: ':80'}]\n",
     "t.yaml:2:11: sites[0].name: expected a name of up to 64 letters, digits, '-', '_' or "
     "'.'; got ''"},
    {"sites:\n  - name: 'my site'\n    bindings: [{listen: ':80'}]\n",
     "t.yaml:2:11: sites[0].name: expected a name of up to 64 letters, digits, '-', '_' or "
     "'.'; got 'my site'"},
    {"sites:\n  - name: [a]\n    bindings: [{listen: ':80'}]\n",
     "t.yaml:2:11: sites[0].name: expected a name of up to 64 letters, digits, '-', '_' or "
     "'.'; got a sequence"},
    {"sites:\n  - name: a\n", "t.yaml:2:5: sites[0]: missing key 'bindings' (name, hostnames, root, bindings, ...)"},
    {"sites:\n  - name: a\n    bindings: []\n",
     "t.yaml:3:15: sites[0].bindings: a site needs at least one binding (- listen: \"127.0.0.1:8443\")"},
    {"sites:\n  - name: a\n    bindings: [{listen: ':80'}]\n  - name: a\n    bindings: [{listen: ':81'}]\n",
     "t.yaml:4:11: sites[1].name: site name 'a' is already used at line 2"},
    {"sites:\n  - name: a\n    hostnames: localhost\n    bindings: [{listen: ':80'}]\n",
     "t.yaml:3:16: sites[0].hostnames: expected a list of host names like [localhost, "
     "www.example.com]; got 'localhost'"},
    {"sites:\n  - name: a\n    hostnames: [ok.example, 'bad host']\n    bindings: [{listen: ':80'}]\n",
     "t.yaml:3:29: sites[0].hostnames[1]: expected a host name (letters, digits, '-', '.'); got 'bad host'"},
    {"sites:\n  - name: a\n    hostnames: [a.example, A.Example.]\n    bindings: [{listen: ':80'}]\n",
     "t.yaml:3:28: sites[0].hostnames[1]: duplicate host name 'a.example' (first at line 3, column 17)"},
    {"sites:\n  - name: a\n    symlinks: allow\n    bindings: [{listen: ':80'}]\n",
     "t.yaml:3:15: sites[0].symlinks: expected one of refuse | follow; got 'allow'"},
    {"sites:\n  - name: a\n    ssl: required\n    bindings: [{listen: ':80'}]\n",
     "t.yaml:3:10: sites[0].ssl: expected one of allow | require; got 'required' (did you mean 'require'?)"},
    {"sites:\n  - name: a\n    client_certificates: optional\n    bindings: [{listen: ':80'}]\n",
     "t.yaml:3:26: sites[0].client_certificates: expected one of ignore | accept | require; got 'optional'"},
    {"sites:\n  - name: a\n    client_certificate: require\n    bindings: [{listen: ':80'}]\n",
     "t.yaml:3:5: sites[0]: unknown key 'client_certificate' (did you mean 'client_certificates'?); "
     "valid keys: name, hostnames, root, symlinks, ssl, client_certificates, revocation, "
     "locations, bindings"},
    {"sites:\n  - name: a\n    revocation: {mode: sometimes}\n    bindings: [{listen: ':80'}]\n",
     "t.yaml:3:24: sites[0].revocation.mode: expected one of off | crl | ocsp | ocsp+crl; got 'sometimes'"},
    /* locations */
    {"sites:\n  - name: a\n    locations: [{path: secure}]\n    bindings: [{listen: ':80'}]\n",
     "t.yaml:3:24: sites[0].locations[0].path: expected a URL path starting with '/'; got 'secure'"},
    {"sites:\n  - name: a\n    locations: [{path: '/a/../b'}]\n    bindings: [{listen: ':80'}]\n",
     "t.yaml:3:24: sites[0].locations[0].path: expected a normalised path (no '//', '.' or '..' "
     "segments); got '/a/../b'"},
    {"sites:\n  - name: a\n    locations: [{path: '/a?b'}]\n    bindings: [{listen: ':80'}]\n",
     "t.yaml:3:24: sites[0].locations[0].path: expected a plain URL path (no spaces, '?', '#', "
     "'%' or '\\'); got '/a?b'"},
    {"sites:\n  - name: a\n    locations: [{ssl: require}]\n    bindings: [{listen: ':80'}]\n",
     "t.yaml:3:17: sites[0].locations[0]: missing key 'path' (path, ssl, client_certificates)"},
    {"sites:\n  - name: a\n    locations:\n      - {path: /s}\n      - {path: /s/}\n"
     "    bindings: [{listen: ':80'}]\n",
     "t.yaml:5:16: sites[0].locations: location '/s' is already defined at line 4 (paths are "
     "compared without a trailing '/')"},
    {"sites:\n  - name: a\n    locations: [{path: /s, client_certificates: must}]\n"
     "    bindings: [{listen: ':80'}]\n",
     "t.yaml:3:49: sites[0].locations[0].client_certificates: expected one of ignore | accept | "
     "require; got 'must'"},
    {"sites:\n  - name: a\n    locations: /s\n    bindings: [{listen: ':80'}]\n",
     "t.yaml:3:16: sites[0].locations: expected a list of locations (each item a mapping: path, "
     "ssl, client_certificates); got '/s'"},
    /* bindings */
    {"sites: [{name: a, bindings: [{tls: false}]}]\n",
     "t.yaml:1:30: sites[0].bindings[0]: missing key 'listen' (listen, tls, certificate, key, ...)"},
    {"sites: [{name: a, bindings: [{listen: 'localhost:80'}]}]\n",
     "t.yaml:1:39: sites[0].bindings[0].listen: expected an address like 127.0.0.1:8443, "
     "[::1]:8443, :8443 or *:8443; got 'localhost:80'"},
    {"sites: [{name: a, bindings: [{listen: '1.2.3.4:65536'}]}]\n",
     "t.yaml:1:39: sites[0].bindings[0].listen: port out of range (0 to 65535); got '1.2.3.4:65536'"},
    {"sites: [{name: a, bindings: [{listen: 8080}]}]\n",
     "t.yaml:1:39: sites[0].bindings[0].listen: expected an address like 127.0.0.1:8443, "
     "[::1]:8443, :8443 or *:8443; got '8080'"},
    {"sites: [{name: a, bindings: [{listen: ':80', tls: yes}]}]\n",
     "t.yaml:1:51: sites[0].bindings[0].tls: expected true or false; got 'yes'"},
    {"sites: [{name: a, bindings: [{listen: ':80', tls: True}]}]\n",
     "t.yaml:1:51: sites[0].bindings[0].tls: expected true or false; got 'True'"},
    {"sites: [{name: a, bindings: [{listen: ':443', tls: true, key: k.pem}]}]\n",
     "t.yaml:1:30: sites[0].bindings[0]: a TLS binding needs 'certificate' and 'key' (missing 'certificate')"},
    {"sites: [{name: a, bindings: [{listen: ':443', tls: true, certificate: c.pem}]}]\n",
     "t.yaml:1:30: sites[0].bindings[0]: a TLS binding needs 'certificate' and 'key' (missing 'key')"},
    {"sites: [{name: a, bindings: [{listen: ':80', certificate: c.pem}]}]\n",
     "t.yaml:1:59: sites[0].bindings[0]: 'certificate' is only for TLS bindings (add tls: true)"},
    {"sites: [{name: a, bindings: [{listen: ':80', negotiate_client_certificate: true}]}]\n",
     "t.yaml:1:76: sites[0].bindings[0]: a plain-HTTP binding cannot ask for a client certificate "
     "(add tls: true)"},
    {"sites: [{name: a, bindings: [{listen: ':443', tls: true, certificate: c, key: k, "
     "client_ca_list: all}]}]\n",
     "t.yaml:1:98: sites[0].bindings[0].client_ca_list: expected one of roots | empty; got 'all'"},
    {"sites: [{name: a, bindings: [{listen: ':80'}, {listen: '0.0.0.0:80'}]}]\n",
     "t.yaml:1:56: sites[0].bindings[1].listen: site 'a' already has a binding on this address (':80')"},
    /* listeners shared by sites */
    {"sites:\n  - {name: a, bindings: [{listen: ':80'}]}\n  - {name: b, bindings: [{listen: '*:80'}]}\n",
     "t.yaml:3:35: sites[1].bindings[0].listen: sites 'a' and 'b' both have no hostnames on the "
     "same address, so both would be its default site; give one of them hostnames"},
    {"sites:\n  - {name: a, hostnames: [x.example], bindings: [{listen: '127.0.0.1:80'}]}\n"
     "  - {name: b, hostnames: [y.example, X.EXAMPLE], bindings: [{listen: '127.0.0.1:80'}]}\n",
     "t.yaml:3:38: sites[1].hostnames[1]: host name 'x.example' is already served on "
     "127.0.0.1:80 by site 'a' (line 2); SNI and Host could not tell them apart"},
    {"sites:\n  - {name: a, hostnames: [x.example], bindings: [{listen: '[::1]:443', tls: true,"
     " certificate: c, key: k}]}\n"
     "  - {name: b, bindings: [{listen: '[0:0::1]:443'}]}\n",
     "t.yaml:3:35: sites[1].bindings[0].listen: tls: false here, but site 'a' uses the same "
     "address ('[::1]:443') with tls: true; one address is either TLS or plain HTTP"},
};

static void check_message(const char *yaml, const char *got, const char *want)
{
    size_t n = strlen(want);
    bool prefix = n > 0 && want[n - 1] == '*';

    if (prefix ? strncmp(got, want, n - 1) != 0 : strcmp(got, want) != 0)
        fail_msg("\n--- yaml ---\n%s--- got ---\n%s\n--- want ---\n%s", yaml, got, want);
}

static void test_bad_values(void **state)
{
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        char *err = load_err(bad_cases[i].yaml);
        check_message(bad_cases[i].yaml, err, bad_cases[i].want);
        free(err);
    }
}

/* ---- YAML syntax and hostile input -------------------------------------------- */

static char *repeat(const char *head, const char *unit, size_t times, const char *tail)
{
    size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail);
    char *s = malloc(hl + ul * times + tl + 1);
    assert_non_null(s);
    memcpy(s, head, hl);
    for (size_t i = 0; i < times; i++)
        memcpy(s + hl + i * ul, unit, ul);
    memcpy(s + hl + ul * times, tail, tl + 1);
    return s;
}

static const struct bad_case syntax_cases[] = {
    {"sites: [a, b\n",
     "t.yaml:2:1: YAML syntax error: did not find expected ',' or ']' while parsing a flow sequence"},
    {"workers: 2\n\tstores: x\n", "t.yaml:2:1: YAML syntax error: *"},
    {"a: b: c\n", "t.yaml:1:5: YAML syntax error: mapping values are not allowed in this context"},
    {"base: &b {workers: 2}\n" MIN_SITES,
     "t.yaml:1:7: YAML anchors are not supported (&b): write the value out in full"},
    {"workers: *w\n" MIN_SITES,
     "t.yaml:1:10: YAML aliases are not supported (*w): write the value out in full"},
    {"workers: !!int 2\n" MIN_SITES,
     "t.yaml:1:10: YAML tags are not supported (tag:yaml.org,2002:int): write the plain value"},
    {MIN_SITES "---\n" MIN_SITES,
     "t.yaml:2:1: a second YAML document (one configuration per file)"},
    {"workers: \"2\\0\"\n" MIN_SITES, "t.yaml:1:10: NUL character in a value"},
    {"", "t.yaml: empty configuration: expected a mapping with at least 'sites:'"},
    {"# only a comment\n", "t.yaml: empty configuration: expected a mapping with at least 'sites:'"},
};

static void test_syntax(void **state)
{
    for (size_t i = 0; i < sizeof(syntax_cases) / sizeof(syntax_cases[0]); i++) {
        char *err = load_err(syntax_cases[i].yaml);
        check_message(syntax_cases[i].yaml, err, syntax_cases[i].want);
        free(err);
    }
}

static void test_bounds(void **state)
{
    char *yaml, *err;

    /* The top-level mapping and 32 nested sequences: one past the depth bound. */
    yaml = repeat("workers: ", "[", 32, "");
    err = load_err(yaml);
    check_message(yaml, err, "t.yaml:1:41: nested too deeply (the limit is 32 levels)");
    free(err);
    free(yaml);
    /* 31 is within the bound: the value is then refused for its type, not its depth. */
    yaml = repeat("workers: ", "[", 31, "");
    err = load_err(yaml);
    check_message(yaml, err, "t.yaml:2:1: YAML syntax error: *");
    free(err);
    free(yaml);

    /* The classic alias bomb never gets past its first anchor. */
    err = load_err("a: &a [x, x, x, x, x, x, x, x, x]\nb: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
                   "c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n");
    check_message("bomb", err, "t.yaml:1:4: YAML anchors are not supported (&a)*");
    free(err);

    /* More nodes than allowed, in a small file. */
    yaml = repeat("workers: [", "1,", 70000, "1]\n");
    err = load_err(yaml);
    /* Node 65537 is the 65534th item: the mapping, its key and the sequence come first. */
    check_message("many nodes", err, "t.yaml:1:131077: too many YAML nodes (the limit is 65536)");
    free(err);
    free(yaml);

    /* A value longer than the scalar bound. */
    yaml = repeat("stores: ", "a", CG_CONF_MAX_SCALAR + 1, "\n" MIN_SITES);
    err = load_err(yaml);
    check_message("long scalar", err, "t.yaml:1:9: value too long (the limit is 8192 bytes)");
    free(err);
    free(yaml);

    /* Over the file size bound: refused before parsing. */
    yaml = repeat("# ", "c", CG_CONF_MAX_FILE_BYTES, "\n" MIN_SITES);
    err = load_err(yaml);
    check_message("big file", err, "t.yaml: file too large (*");
    free(err);
    free(yaml);

    /* Just under the bounds still loads: the limits are not off by one. */
    yaml = repeat("stores: ", "a", CG_CONF_MAX_SCALAR, "\n" MIN_SITES);
    cg_conf_unref(load_ok(yaml));
    free(yaml);
    yaml = repeat("workers: 2\n", "", 0, MIN_SITES);
    cg_conf_unref(load_ok(yaml));
    free(yaml);
}

/* ---- merging -------------------------------------------------------------------- */

static void test_merge(void **state)
{
    struct cg_conf *c = load_ok(
        "stores: ./stores\n"
        "revocation: {mode: crl, scope: leaf, on_unknown: allow, timeout: 2s,\n"
        "             ocsp_responder: 'http://ocsp.example/', max_crl_age: 1d, clock_skew: 2m}\n"
        "client_certificate_purpose: any\n"
        "sites:\n"
        "  - name: main\n"
        "    hostnames: [main.example]\n"
        "    ssl: require\n"
        "    client_certificates: accept\n"
        "    revocation: {mode: ocsp+crl, timeout: 1s, clock_skew: 0s}\n"
        "    locations:\n"
        "      - {path: /secure, client_certificates: require}\n"
        "      - {path: /public/, ssl: allow, client_certificates: ignore}\n"
        "      - {path: /}\n"
        "      - {path: /secure/api/v1}\n"
        "    bindings:\n"
        "      - {listen: '127.0.0.1:8443', tls: true, certificate: c, key: k}\n"
        "      - {listen: '127.0.0.1:8080'}\n"
        "  - name: plain\n"
        "    bindings:\n"
        "      - {listen: '127.0.0.1:8443', tls: true, certificate: c2, key: k2}\n"
        "      - {listen: '127.0.0.1:8444', tls: true, certificate: c2, key: k2}\n"
        "      - {listen: '127.0.0.1:8445', tls: true, certificate: c2, key: k2,\n"
        "         negotiate_client_certificate: true}\n"
        "  - name: explicit\n"
        "    hostnames: [x.example]\n"
        "    client_certificates: require\n"
        "    bindings:\n"
        "      - {listen: '127.0.0.1:8443', tls: true, certificate: c3, key: k3,\n"
        "         negotiate_client_certificate: false}\n");
    const struct cg_conf_site *m = &c->sites[0], *p = &c->sites[1], *x = &c->sites[2];

    /* Locations: longest first, inheriting what they leave out. */
    assert_int_equal(m->n_locations, 4);
    assert_string_equal(m->locations[0].path, "/secure/api/v1");
    assert_string_equal(m->locations[1].path, "/public");
    assert_string_equal(m->locations[2].path, "/secure");
    assert_string_equal(m->locations[3].path, "/");
    assert_int_equal(m->locations[0].client_certificates, CG_CLIENT_CERT_ACCEPT);
    assert_int_equal(m->locations[0].ssl, CG_SSL_REQUIRE);
    assert_int_equal(m->locations[1].client_certificates, CG_CLIENT_CERT_IGNORE);
    assert_int_equal(m->locations[1].ssl, CG_SSL_ALLOW);
    assert_int_equal(m->locations[2].client_certificates, CG_CLIENT_CERT_REQUIRE);
    assert_int_equal(m->locations[2].ssl, CG_SSL_REQUIRE);
    assert_int_equal(m->locations[3].client_certificates, CG_CLIENT_CERT_ACCEPT);

    /* Revocation: the site overrides three keys and inherits the rest. */
    assert_int_equal(m->revocation.mode, CG_CONF_REVOCATION_OCSP_CRL);
    assert_int_equal(m->revocation.timeout_ms, 1000);
    assert_int_equal(m->revocation.scope, CG_SCOPE_LEAF);
    assert_int_equal(m->revocation.on_unknown, CG_ON_UNKNOWN_ALLOW);
    assert_string_equal(m->revocation.ocsp_responder, "http://ocsp.example/");
    assert_int_equal(m->revocation.max_crl_age_s, 86400);
    assert_int_equal(m->revocation.clock_skew_s, 0);
    assert_int_equal(m->policy.revocation, CG_REVOCATION_CRL);
    assert_int_equal(m->policy.scope, CG_SCOPE_LEAF);
    assert_int_equal(m->policy.purpose, CG_PURPOSE_ANY);
    assert_int_equal(m->policy.max_crl_age, 86400);
    assert_int_equal(p->revocation.mode, CG_CONF_REVOCATION_CRL);
    assert_int_equal(p->revocation.timeout_ms, 2000);
    assert_int_equal(p->revocation.clock_skew_s, 120);
    assert_string_equal(p->revocation.ocsp_responder, "http://ocsp.example/");
    assert_true(p->revocation.ocsp_responder != c->revocation.ocsp_responder);   /* owned copy */

    /* negotiate_client_certificate: true on 8443 for every site there
     * (main accepts), false on 8444 (nobody wants one), explicit values win. */
    assert_true(m->bindings[0].negotiate_client_certificate);
    assert_false(m->bindings[1].negotiate_client_certificate);   /* plain HTTP */
    assert_true(p->bindings[0].negotiate_client_certificate);
    assert_false(p->bindings[1].negotiate_client_certificate);
    assert_true(p->bindings[2].negotiate_client_certificate);
    assert_false(x->bindings[0].negotiate_client_certificate);

    /* Listeners: 8443 shared by three sites, 8080, 8444, 8445. */
    assert_int_equal(c->n_listeners, 4);
    const struct cg_conf_listener *l = &c->listeners[m->bindings[0].listener];
    assert_ptr_equal(l, &c->listeners[p->bindings[0].listener]);
    assert_ptr_equal(l, &c->listeners[x->bindings[0].listener]);
    assert_true(l->tls);
    assert_int_equal(l->n_sites, 3);
    assert_int_equal(l->default_entry, 1);
    assert_int_equal(l->n_hosts, 2);
    assert_string_equal(l->hosts[0].name, "main.example");
    assert_string_equal(l->hosts[1].name, "x.example");
    assert_ptr_equal(l->sites[l->hosts[1].entry].site, x);
    assert_ptr_equal(l->sites[l->hosts[1].entry].binding, &x->bindings[0]);

    /* The explicit false while the site requires: loads, with a warning. */
    assert_int_equal(c->n_warnings, 1);
    check_message("warning", c->warnings[0],
                  "t.yaml:30:40: sites[2].bindings[0]: binding 127.0.0.1:8443 does not ask for "
                  "a client certificate in the handshake, but site 'explicit' accepts or requires "
                  "one: requests that need it get 403.7");
    cg_conf_unref(c);
}

static void test_negotiate_from_location(void **state)
{
    /* Only a location wants a certificate: the binding still asks. */
    struct cg_conf *c = load_ok(
        "sites:\n"
        "  - name: a\n"
        "    locations: [{path: /s, client_certificates: require}]\n"
        "    bindings: [{listen: ':443', tls: true, certificate: c, key: k}]\n");
    assert_true(c->sites[0].bindings[0].negotiate_client_certificate);
    cg_conf_unref(c);
}

static void test_warnings(void **state)
{
    struct cg_conf *c = load_ok(
        "sites:\n"
        "  - name: a\n"
        "    ssl: require\n"
        "    client_certificates: require\n"
        "    bindings: [{listen: ':80'}]\n");
    assert_int_equal(c->n_warnings, 3);
    check_message("w0", c->warnings[0],
                  "t.yaml:1:1: client certificates are accepted or required but no 'stores:' is "
                  "set: no certificate can be trusted (403.16 untrusted-root)");
    check_message("w1", c->warnings[1],
                  "t.yaml:2:5: sites[0]: site 'a' wants client certificates but has no TLS binding");
    check_message("w2", c->warnings[2],
                  "t.yaml:2:5: sites[0]: site 'a' requires TLS but has no TLS binding: every "
                  "request gets 403.4");
    cg_conf_unref(c);
}

/* ---- lookups ---------------------------------------------------------------------- */

static const char *const lookup_yaml =
    "sites:\n"
    "  - name: main\n"
    "    hostnames: [www.example.com, localhost]\n"
    "    locations:\n"
    "      - {path: /secure, client_certificates: require}\n"
    "      - {path: /secure/open/, client_certificates: ignore}\n"
    "      - {path: /api}\n"
    "    bindings: [{listen: '127.0.0.1:8443', tls: true, certificate: c, key: k},\n"
    "               {listen: '[::1]:8443', tls: true, certificate: c, key: k}]\n"
    "  - name: fallback\n"
    "    locations: [{path: /}]\n"
    "    bindings: [{listen: '127.0.0.1:8443', tls: true, certificate: c, key: k}]\n"
    "  - name: api\n"
    "    hostnames: [api.example.com, '127.0.0.1']\n"
    "    bindings: [{listen: '127.0.0.1:8443', tls: true, certificate: c, key: k},\n"
    "               {listen: ':9000'}]\n";

static void test_find_site(void **state)
{
    struct cg_conf *c = load_ok(lookup_yaml);
    const struct cg_conf_site *main_site = &c->sites[0], *fb = &c->sites[1], *api = &c->sites[2];
    const struct cg_conf_binding *on = &c->sites[1].bindings[0];   /* any binding of the address */
    static const struct { const char *host; int site; } cases[] = {
        {"www.example.com", 0}, {"WWW.Example.COM", 0}, {"www.example.com.", 0},
        {"www.example.com:8443", 0}, {"localhost", 0}, {"LOCALHOST.:8443", 0},
        {"api.example.com", 2}, {"127.0.0.1", 2}, {"127.0.0.1:8443", 2},
        {"example.com", 1}, {"www.example.co", 1}, {"www.example.comm", 1}, {"", 1},
        {"[::1]:8443", 1}, {"api.example.com..", 1}, {"xwww.example.com", 1},
    };
    const struct cg_conf_site *sites[] = {main_site, fb, api};

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct cg_conf_site *got = cg_conf_find_site(c, on, cases[i].host, strlen(cases[i].host));
        if (got != sites[cases[i].site])
            fail_msg("host '%s': got %s, want %s", cases[i].host, got ? got->name : "NULL",
                     sites[cases[i].site]->name);
    }
    assert_ptr_equal(cg_conf_find_site(c, on, NULL, 0), fb);
    /* Host is compared by its bytes, not by C string: a NUL ends nothing. */
    assert_ptr_equal(cg_conf_find_site(c, on, "localhost\0x", 11), fb);
    assert_ptr_equal(cg_conf_find_site(c, on, "localhostXYZ", 9), main_site);

    /* [::1]:8443 has only main, and no default: unknown names find nothing. */
    const struct cg_conf_binding *v6 = &main_site->bindings[1];
    assert_ptr_equal(cg_conf_find_site(c, v6, "localhost", 9), main_site);
    assert_null(cg_conf_find_site(c, v6, "api.example.com", 15));
    assert_null(cg_conf_find_site(c, v6, NULL, 0));
    /* :9000 is api's only, and api is not a default site there either. */
    assert_ptr_equal(cg_conf_find_site(c, &api->bindings[1], "api.example.com", 15), api);
    assert_null(cg_conf_find_site(c, &api->bindings[1], "www.example.com", 15));

    /* A binding from another snapshot of the same file finds the same site. */
    struct cg_conf *c2 = load_ok(lookup_yaml);
    assert_ptr_equal(cg_conf_find_site(c, &c2->sites[2].bindings[0], "localhost", 9), main_site);
    /* And a listener lookup by address. */
    assert_ptr_equal(cg_conf_find_listener(c, (const struct sockaddr *)&c2->sites[0].bindings[1].addr,
                                           c2->sites[0].bindings[1].addr_len),
                     &c->listeners[main_site->bindings[1].listener]);
    cg_conf_unref(c2);
    assert_null(cg_conf_find_site(c, NULL, "x", 1));
    cg_conf_unref(c);
}

static void test_find_location(void **state)
{
    struct cg_conf *c = load_ok(lookup_yaml);
    const struct cg_conf_site *s = &c->sites[0];
    static const struct { const char *path; const char *want; } cases[] = {
        {"/secure", "/secure"}, {"/secure/", "/secure"}, {"/secure/x", "/secure"},
        {"/securex", NULL}, {"/secure/open", "/secure/open"}, {"/secure/open/a/b", "/secure/open"},
        {"/secure/opener", "/secure"}, {"/api", "/api"}, {"/api/v1", "/api"}, {"/apiv1", NULL},
        {"/", NULL}, {"", NULL}, {"/Secure", NULL},
    };

    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const struct cg_conf_location *loc = cg_conf_find_location(s, cases[i].path, strlen(cases[i].path));
        const char *got = loc != NULL ? loc->path : NULL;
        if ((got == NULL) != (cases[i].want == NULL) ||
            (got != NULL && strcmp(got, cases[i].want) != 0))
            fail_msg("path '%s': got %s, want %s", cases[i].path, got ? got : "NULL",
                     cases[i].want ? cases[i].want : "NULL");
    }
    assert_int_equal(cg_conf_find_location(s, "/secure/open/x", 14)->client_certificates,
                     CG_CLIENT_CERT_IGNORE);
    /* The root location matches everything. */
    const struct cg_conf_site *fb = &c->sites[1];
    assert_string_equal(cg_conf_find_location(fb, "/anything/at/all", 16)->path, "/");
    assert_string_equal(cg_conf_find_location(fb, "/", 1)->path, "/");
    assert_null(cg_conf_find_location(NULL, "/", 1));
    cg_conf_unref(c);
}

/* ---- values ------------------------------------------------------------------------ */

static void test_values(void **state)
{
    static const struct { const char *s; int rc; uint64_t ms; } durations[] = {
        {"0", CG_OK, 0}, {"10", CG_OK, 10000}, {"10s", CG_OK, 10000}, {"500ms", CG_OK, 500},
        {"2m", CG_OK, 120000}, {"1h", CG_OK, 3600000}, {"1d", CG_OK, 86400000},
        {"", CG_ERR, 0}, {"s", CG_ERR, 0}, {"10x", CG_ERR, 0}, {"10S", CG_ERR, 0}, {"-1s", CG_ERR, 0},
        {" 1s", CG_ERR, 0}, {"1s ", CG_ERR, 0}, {"1h30m", CG_ERR, 0}, {"1.5s", CG_ERR, 0},
        {"18446744073709551615ms", CG_OK, UINT64_MAX}, {"18446744073709551616", CG_CONF_RANGE, 0},
        {"18446744073709551615d", CG_CONF_RANGE, 0},
    };
    static const struct { const char *s; int rc; uint64_t bytes; } sizes[] = {
        {"0", CG_OK, 0}, {"16384", CG_OK, 16384}, {"16k", CG_OK, 16384}, {"16K", CG_OK, 16384},
        {"10m", CG_OK, 10485760}, {"10M", CG_OK, 10485760}, {"2g", CG_OK, 2147483648u},
        {"1kb", CG_ERR, 0}, {"k", CG_ERR, 0}, {"1t", CG_ERR, 0}, {"+1", CG_ERR, 0},
        {"17179869184G", CG_CONF_RANGE, 0},
    };
    static const struct { const char *s; int rc; int family; unsigned port; const char *norm; } addrs[] = {
        {"127.0.0.1:8443", CG_OK, AF_INET, 8443, "127.0.0.1:8443"},
        {":80", CG_OK, AF_INET, 80, "0.0.0.0:80"}, {"*:80", CG_OK, AF_INET, 80, "0.0.0.0:80"},
        {"0.0.0.0:0", CG_OK, AF_INET, 0, "0.0.0.0:0"},
        {"[::1]:443", CG_OK, AF_INET6, 443, "[::1]:443"}, {"[::]:65535", CG_OK, AF_INET6, 65535, "[::]:65535"},
        {"[0:0::1]:1", CG_OK, AF_INET6, 1, "[::1]:1"},
        {"127.0.0.1", CG_ERR, 0, 0, NULL}, {"127.0.0.1:", CG_ERR, 0, 0, NULL},
        {"::1:443", CG_ERR, 0, 0, NULL}, {"[::1]443", CG_ERR, 0, 0, NULL}, {"[]:443", CG_ERR, 0, 0, NULL},
        {"localhost:80", CG_ERR, 0, 0, NULL}, {"1.2.3:80", CG_ERR, 0, 0, NULL},
        {"1.2.3.4:80x", CG_ERR, 0, 0, NULL}, {"1.2.3.4:-1", CG_ERR, 0, 0, NULL},
        {"1.2.3.4:65536", CG_CONF_RANGE, 0, 0, NULL}, {"[::1]:99999999999999999999999", CG_CONF_RANGE, 0, 0, NULL},
        {"**:80", CG_ERR, 0, 0, NULL}, {"", CG_ERR, 0, 0, NULL},
    };
    uint64_t v;
    bool b;

    for (size_t i = 0; i < sizeof(durations) / sizeof(durations[0]); i++) {
        int rc = cg_conf_parse_duration_ms(durations[i].s, &v);
        if (rc != durations[i].rc || (rc == CG_OK && v != durations[i].ms))
            fail_msg("duration '%s': rc %d", durations[i].s, rc);
    }
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        int rc = cg_conf_parse_size(sizes[i].s, &v);
        if (rc != sizes[i].rc || (rc == CG_OK && v != sizes[i].bytes))
            fail_msg("size '%s': rc %d", sizes[i].s, rc);
    }
    for (size_t i = 0; i < sizeof(addrs) / sizeof(addrs[0]); i++) {
        struct sockaddr_storage ss;
        socklen_t len = 0;
        char buf[64];
        int rc = cg_conf_parse_listen(addrs[i].s, &ss, &len);
        if (rc != addrs[i].rc)
            fail_msg("listen '%s': rc %d, want %d", addrs[i].s, rc, addrs[i].rc);
        if (rc != CG_OK)
            continue;
        assert_int_equal(ss.ss_family, addrs[i].family);
        cg_conf_addr_format((struct sockaddr *)&ss, len, buf, sizeof(buf));
        assert_string_equal(buf, addrs[i].norm);
    }
    assert_int_equal(cg_conf_parse_bool("true", &b), CG_OK);
    assert_true(b);
    assert_int_equal(cg_conf_parse_bool("false", &b), CG_OK);
    assert_false(b);
    assert_int_equal(cg_conf_parse_bool("yes", &b), CG_ERR);
    assert_int_equal(cg_conf_parse_bool("1", &b), CG_ERR);

    /* ":80", "*:80" and "0.0.0.0:80" are one address; ports and families tell apart. */
    struct sockaddr_storage a, c;
    socklen_t al, cl;
    cg_conf_parse_listen(":80", &a, &al);
    cg_conf_parse_listen("*:80", &c, &cl);
    assert_true(cg_conf_addr_equal((struct sockaddr *)&a, al, (struct sockaddr *)&c, cl));
    cg_conf_parse_listen(":81", &c, &cl);
    assert_false(cg_conf_addr_equal((struct sockaddr *)&a, al, (struct sockaddr *)&c, cl));
    cg_conf_parse_listen("[::]:80", &c, &cl);
    assert_false(cg_conf_addr_equal((struct sockaddr *)&a, al, (struct sockaddr *)&c, cl));

    char buf[32];
    cg_conf_duration_format(90000, buf, sizeof(buf));
    assert_string_equal(buf, "90s");
    cg_conf_duration_format(3600000, buf, sizeof(buf));
    assert_string_equal(buf, "1h");
    cg_conf_duration_format(1500, buf, sizeof(buf));
    assert_string_equal(buf, "1500ms");
    cg_conf_size_format(16384, buf, sizeof(buf));
    assert_string_equal(buf, "16k");
    cg_conf_size_format(1000, buf, sizeof(buf));
    assert_string_equal(buf, "1000");
}

/* ---- files ------------------------------------------------------------------------- */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_files(void **state)
{
    const char *tmp = getenv("CG_TMPDIR");
    char dir[512], path[600], cert[600], key[600], *err = NULL;
    struct cg_conf *c = NULL;

    snprintf(dir, sizeof(dir), "%s/conf-files-%ld", tmp != NULL ? tmp : "/tmp", (long)getpid());
    mkdir(tmp != NULL ? tmp : "/tmp", 0755);
    assert_int_equal(mkdir(dir, 0755), 0);
    snprintf(path, sizeof(path), "%s/certgate.yaml", dir);
    snprintf(cert, sizeof(cert), "%s/server.pem", dir);
    snprintf(key, sizeof(key), "%s/server.key", dir);

    /* The key file is missing: the error points at `key:`'s value. */
    write_file(cert, "not checked for content here\n");
    write_file(path, "sites:\n  - name: a\n    bindings:\n"
                     "      - listen: '127.0.0.1:0'\n        tls: true\n"
                     "        certificate: server.pem\n        key: server.key\n");
    assert_int_equal(cg_conf_load(path, &c, &err), CG_ERR);
    assert_null(c);
    char want[1400];
    snprintf(want, sizeof(want), "%s:7:14: sites[0].bindings[0].key: cannot read key '%s': "
             "No such file or directory", path, key);
    check_message("missing key", err, want);

    /* With both files present it loads, paths resolved next to the config. */
    write_file(key, "k\n");
    assert_int_equal(cg_conf_load(path, &c, &err), CG_OK);
    assert_string_equal(c->file, path);
    assert_string_equal(c->sites[0].bindings[0].certificate, cert);
    snprintf(want, sizeof(want), "%s/state", dir);
    assert_string_equal(c->state_dir, want);
    cg_conf_unref(c);
    c = NULL;

    /* A directory where a file is expected. */
    write_file(path, "sites:\n  - name: a\n    bindings:\n"
                     "      - {listen: ':0', tls: true, certificate: ., key: server.key}\n");
    assert_int_equal(cg_conf_load(path, &c, &err), CG_ERR);
    snprintf(want, sizeof(want), "%s:4:48: sites[0].bindings[0].certificate: certificate '%s' "
             "is not a regular file", path, dir);
    check_message("dir", err, want);

    /* A missing config file. */
    snprintf(want, sizeof(want), "%s/nope.yaml", dir);
    assert_int_equal(cg_conf_load(want, &c, &err), CG_ERR);
    assert_non_null(strstr(err, "nope.yaml: cannot open: No such file or directory"));

    /* Over the size bound. */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    for (int i = 0; i < CG_CONF_MAX_FILE_BYTES / 8 + 1; i++)
        fputs("#......\n", f);
    fclose(f);
    assert_int_equal(cg_conf_load(path, &c, &err), CG_ERR);
    snprintf(want, sizeof(want), "%s: file too large (the limit is 1048576 bytes)", path);
    check_message("big", err, want);

    free(err);
    unlink(path);
    unlink(cert);
    unlink(key);
    rmdir(dir);
}

/* ---- lifetime ---------------------------------------------------------------------- */

static void *ref_unref(void *arg)
{
    struct cg_conf *c = arg;
    for (int i = 0; i < 20000; i++)
        cg_conf_unref(cg_conf_ref(c));
    return NULL;
}

static void test_refcount(void **state)
{
    struct cg_conf *c = load_ok(MIN_SITES);
    pthread_t t[4];

    for (int i = 0; i < 4; i++)
        assert_int_equal(pthread_create(&t[i], NULL, ref_unref, c), 0);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(c->refcount, 1);
    assert_ptr_equal(cg_conf_ref(c), c);
    cg_conf_unref(c);
    cg_conf_unref(c);   /* freed here; ASan reports a leak or double free otherwise */
    cg_conf_unref(NULL);
    assert_null(cg_conf_ref(NULL));
}

static void test_names(void **state)
{
    assert_string_equal(cg_conf_client_cert_name(CG_CLIENT_CERT_REQUIRE), "require");
    assert_string_equal(cg_conf_ssl_name(CG_SSL_ALLOW), "allow");
    assert_string_equal(cg_conf_errors_name(CG_ERRORS_DETAILED_LOCAL), "detailed-local");
    assert_string_equal(cg_conf_log_format_name(CG_LOG_JSON), "json");
    assert_string_equal(cg_conf_log_level_name(CG_LEVEL_WARN), "warn");
    assert_string_equal(cg_conf_ca_list_name(CG_CA_LIST_EMPTY), "empty");
    assert_string_equal(cg_conf_revocation_mode_name(CG_CONF_REVOCATION_OCSP_CRL), "ocsp+crl");
    assert_string_equal(cg_conf_scope_name(CG_SCOPE_LEAF), "leaf");
    assert_string_equal(cg_conf_on_unknown_name(CG_ON_UNKNOWN_ALLOW), "allow");
    assert_string_equal(cg_conf_purpose_name(CG_PURPOSE_SERVER), "server");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_good_values),
        cmocka_unit_test(test_admin),
        cmocka_unit_test(test_good_strings),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_syntax),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_merge),
        cmocka_unit_test(test_negotiate_from_location),
        cmocka_unit_test(test_warnings),
        cmocka_unit_test(test_find_site),
        cmocka_unit_test(test_find_location),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_files),
        cmocka_unit_test(test_refcount),
        cmocka_unit_test(test_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
