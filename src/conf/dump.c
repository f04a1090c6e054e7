/* dump.c: snapshot -> JSON in the shape of the config file. */
#include "conf/dump.h"

#include "conf/values.h"

static json_t *duration(uint64_t ms)
{
    char buf[32];
    cg_conf_duration_format(ms, buf, sizeof(buf));
    return json_string(buf);
}

static json_t *size(uint64_t bytes)
{
    char buf[32];
    cg_conf_size_format(bytes, buf, sizeof(buf));
    return json_string(buf);
}

static json_t *revocation(const struct cg_conf_revocation *r)
{
    return json_pack("{s:s, s:s, s:s, s:o, s:o, s:o, s:o, s:s, s:o, s:o}",
                     "mode", cg_conf_revocation_mode_name(r->mode),
                     "scope", cg_conf_scope_name(r->scope),
                     "on_unknown", cg_conf_on_unknown_name(r->on_unknown),
                     "stale_grace", duration((uint64_t)r->stale_grace_s * 1000),
                     "clock_skew", duration((uint64_t)r->clock_skew_s * 1000),
                     "timeout", duration(r->timeout_ms),
                     "refresh", duration((uint64_t)r->refresh_s * 1000),
                     "ocsp_responder", r->ocsp_responder != NULL ? r->ocsp_responder : "",
                     "max_crl_age", duration((uint64_t)r->max_crl_age_s * 1000),
                     "max_crl_size", size(r->max_crl_bytes));
}

static json_t *site(const struct cg_conf_site *s)
{
    json_t *hosts = json_array(), *locs = json_array(), *binds = json_array();

    for (size_t i = 0; i < s->n_hostnames; i++)
        json_array_append_new(hosts, json_string(s->hostnames[i]));
    for (size_t i = 0; i < s->n_locations; i++) {
        const struct cg_conf_location *l = &s->locations[i];
        json_array_append_new(locs, json_pack("{s:s, s:s, s:s, s:s}", "path", l->path,
                                              "ssl", cg_conf_ssl_name(l->ssl),
                                              "client_certificates",
                                              cg_conf_client_cert_name(l->client_certificates),
                                              "handler", cg_conf_handler_name(l->handler)));
    }
    for (size_t i = 0; i < s->n_bindings; i++) {
        const struct cg_conf_binding *b = &s->bindings[i];
        json_t *o = json_pack("{s:s, s:b}", "listen", b->listen, "tls", b->tls);
        if (o != NULL && b->tls) {
            json_object_set_new(o, "certificate", json_string(b->certificate));
            json_object_set_new(o, "key", json_string(b->key));
            json_object_set_new(o, "negotiate_client_certificate",
                                json_boolean(b->negotiate_client_certificate));
            json_object_set_new(o, "client_ca_list", json_string(cg_conf_ca_list_name(b->ca_list)));
        }
        json_array_append_new(binds, o);
    }
    /* Built in file order; absent values are left out, not null, so that
     * the output loads back as a config. */
    json_t *o = json_pack("{s:s, s:o}", "name", s->name, "hostnames", hosts);
    if (o == NULL) {
        json_decref(locs);
        json_decref(binds);
        return NULL;
    }
    if (s->root != NULL)
        json_object_set_new(o, "root", json_string(s->root));
    json_object_set_new(o, "symlinks", json_string(s->follow_symlinks ? "follow" : "refuse"));
    json_object_set_new(o, "ssl", json_string(cg_conf_ssl_name(s->ssl)));
    json_object_set_new(o, "client_certificates",
                        json_string(cg_conf_client_cert_name(s->client_certificates)));
    json_object_set_new(o, "revocation", revocation(&s->revocation));
    json_object_set_new(o, "locations", locs);
    json_object_set_new(o, "bindings", binds);
    return o;
}

json_t *cg_conf_to_json(const struct cg_conf *c)
{
    const struct cg_limits *l = &c->limits;
    json_t *sites = json_array();

    for (size_t i = 0; i < c->n_sites; i++)
        json_array_append_new(sites, site(&c->sites[i]));
    /* json_pack steals the "o" references, also on failure. */
    json_t *o = json_pack(
        "{s:i, s:s, s:{s:s, s:s}, s:{s:s, s:s}, s:{s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:o,"
        " s:I, s:I, s:o, s:o, s:o, s:I, s:o, s:o, s:o, s:o, s:I, s:I, s:I, s:o, s:I, s:I, s:o,"
        " s:o, s:o},"
        " s:s, s:o, s:s, s:s, s:s, s:s, s:o}",
        "workers", (int)c->workers, "state_dir", c->state_dir,
        "access_log", "path", c->access_log.path != NULL ? c->access_log.path : "-",
        "format", cg_conf_log_format_name(c->access_log.format),
        "error_log", "path", c->error_log.path != NULL ? c->error_log.path : "-",
        "level", cg_conf_log_level_name(c->error_log.level),
        "limits", "header_bytes", size(l->header_bytes), "headers", (json_int_t)l->headers,
        "body_bytes", size(l->body_bytes), "handshake_timeout", duration(l->handshake_timeout_ms),
        "header_timeout", duration(l->header_timeout_ms), "body_timeout", duration(l->body_timeout_ms),
        "keepalive_timeout", duration(l->keepalive_timeout_ms),
        "send_timeout", duration(l->send_timeout_ms), "max_connections", (json_int_t)l->max_connections,
        "max_requests_per_connection", (json_int_t)l->max_requests_per_connection,
        "shutdown_timeout", duration(l->shutdown_timeout_ms),
        "client_ca_list_warn", size(l->client_ca_list_warn),
        "client_ca_list_max", size(l->client_ca_list_max),
        "verification_cache_entries", (json_int_t)l->verification_cache_entries,
        "verification_cache_bytes", size(l->verification_cache_bytes),
        "verification_cache_max_age", duration((uint64_t)l->verification_cache_max_age_s * 1000),
        "verification_cache_revocation_age",
        duration((uint64_t)l->verification_cache_revocation_age_s * 1000),
        "verification_cache_unknown_age",
        duration((uint64_t)l->verification_cache_unknown_age_s * 1000),
        "ecdsa_key_tables", (json_int_t)l->ecdsa_key_tables,
        "ecdsa_key_table_uses", (json_int_t)l->ecdsa_key_table_uses,
        "decoded_certificates", (json_int_t)l->decoded_certificates,
        "decoded_certificate_max_bytes", size(l->decoded_certificate_max_bytes),
        "tls_session_cache", (json_int_t)l->tls_session_cache,
        "file_cache_entries", (json_int_t)l->file_cache_entries,
        "file_cache_bytes", size(l->file_cache_bytes),
        "file_cache_max_file", size(l->file_cache_max_file),
        "file_cache_valid", duration(l->file_cache_valid_ms),
        "errors", cg_conf_errors_name(c->errors), "revocation", revocation(&c->revocation),
        "client_certificate_purpose", cg_conf_purpose_name(c->purpose),
        "ec_key_decoding", cg_conf_ec_key_decoding_name(c->ec_key_decoding),
        "tls_key_schedule", cg_conf_key_schedule_name(c->key_schedule),
        "tls_key_exchange", cg_conf_key_exchange_name(c->key_exchange), "sites", sites);
    if (o != NULL && c->stores != NULL &&
        json_object_set_new(o, "stores", json_string(c->stores)) != 0) {
        json_decref(o);
        return NULL;
    }
    if (o != NULL) {
        json_t *a = json_pack("{s:I}", "max_sites", (json_int_t)c->admin.max_sites);
        if (a != NULL && c->admin.listen != NULL)
            json_object_set_new(a, "listen", json_string(c->admin.listen));
        if (a == NULL || json_object_set_new(o, "admin", a) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    return o;
}
