/* verdict_json.c: struct cg_verdict -> jansson (verdict_json.h). */
#include <time.h>

#include "cert/verdict_json.h"

/* json_object_set_new that turns a NULL value into a failure. */
static int put(json_t *obj, const char *key, json_t *value)
{
    return value == NULL ? -1 : json_object_set_new(obj, key, value);
}

json_t *cg_verdict_headline_json(const struct cg_verdict *v)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    if (put(o, "status", json_integer(v->status)) || put(o, "substatus", json_integer(v->substatus)) ||
        put(o, "code", json_string(v->code ? v->code : "")) ||
        put(o, "reason", json_string(cg_reason_slug(v->reason))) ||
        put(o, "title", json_string(v->title ? v->title : "")) ||
        put(o, "detail", json_string(v->detail ? v->detail : ""))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *problem_json(const struct cg_problem *p)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    if (put(o, "reason", json_string(cg_reason_slug(p->reason))) ||
        put(o, "text", json_string(p->text ? p->text : "")) ||
        (p->x509_error != 0 && put(o, "x509_error", json_integer(p->x509_error))) ||
        (p->advisory && put(o, "advisory", json_true()))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *iso_time_json(time_t t)
{
    struct tm tm;
    char buf[32];
    if (t == 0 || gmtime_r(&t, &tm) == NULL || strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return json_null();
    return json_string(buf);
}

/* What a revocation hook found (verdict.h, struct cg_revocation_info). */
static json_t *revocation_json(const struct cg_revocation_info *r)
{
    json_t *o = json_object();

    if (o == NULL)
        return NULL;
    if (put(o, "source", json_string(cg_rev_source_slug(r->source))) ||
        put(o, "status", json_string(cg_rev_status_slug(r->status))) ||
        put(o, "this_update", iso_time_json(r->this_update)) ||
        put(o, "next_update", iso_time_json(r->next_update)) ||
        (r->status == CG_REV_REVOKED && put(o, "revoked_at", iso_time_json(r->revoked_at))) ||
        (r->reason >= 0 && put(o, "reason_code", json_integer(r->reason))) ||
        (r->stale && put(o, "stale", json_true())) ||
        put(o, "tried", json_string(r->tried ? r->tried : ""))) {
        json_decref(o);
        return NULL;
    }
    return o;
}

static json_t *element_json(const struct cg_path_element *e)
{
    json_t *o = json_object(), *problems = json_array();

    if (o == NULL || problems == NULL)
        goto fail;
    for (size_t i = 0; i < e->n_problems; i++) {
        if (json_array_append_new(problems, problem_json(&e->problems[i])) != 0)
            goto fail;
    }
    if (put(o, "subject", json_string(e->subject ? e->subject : "")) ||
        put(o, "issuer", json_string(e->issuer ? e->issuer : "")) ||
        put(o, "serial", json_string(e->serial ? e->serial : "")) ||
        put(o, "not_before", json_string(e->not_before)) ||
        put(o, "not_after", json_string(e->not_after)) ||
        put(o, "sha256", json_string(e->sha256)) ||
        put(o, "source", json_string(cg_source_slug(e->source))))
        goto fail;
    if ((e->revocation.source != CG_REV_SOURCE_NONE || e->revocation.tried != NULL) &&
        put(o, "revocation", revocation_json(&e->revocation)))
        goto fail;
    if (json_object_set_new(o, "problems", problems) != 0) {
        problems = NULL;   /* set_new consumed it even on failure */
        goto fail;
    }
    return o;
fail:
    json_decref(problems);
    json_decref(o);
    return NULL;
}

json_t *cg_verdict_to_json(const struct cg_verdict *v)
{
    json_t *o = json_object(), *path = json_array(), *remedy = json_array();

    if (o == NULL || path == NULL || remedy == NULL)
        goto fail;
    for (size_t i = 0; i < v->path_len; i++) {
        if (json_array_append_new(path, element_json(&v->path[i])) != 0)
            goto fail;
    }
    for (size_t i = 0; i < v->n_remedy; i++) {
        if (json_array_append_new(remedy, json_string(v->remedy[i])) != 0)
            goto fail;
    }
    if (put(o, "verdict", cg_verdict_headline_json(v)))
        goto fail;
    if (json_object_set_new(o, "path", path) != 0) {
        path = NULL;
        goto fail;
    }
    path = NULL;
    if (json_object_set_new(o, "remedy", remedy) != 0) {
        remedy = NULL;
        goto fail;
    }
    return o;
fail:
    json_decref(path);
    json_decref(remedy);
    json_decref(o);
    return NULL;
}
