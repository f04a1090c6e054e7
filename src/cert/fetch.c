/*
 * fetch.c: the fetcher thread (see fetch.h for the design).
 *
 * The thread owns the multi handle and everything curl; other threads only
 * touch the submission queue and the negative cache under `lock`, then
 * curl_multi_wakeup() the thread out of curl_multi_poll().
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <curl/curl.h>

#include "cert/fetch.h"
#include "core/common.h"

#define NEG_MAX 256   /* remembered failures; the oldest is forgotten first */

/* One submitter of a transfer, with its own deadline: coalesced requests
 * from sites with different timeouts each stop waiting at their own, and
 * the transfer runs until the last of them gives up. */
struct waiter {
    cg_fetch_cb cb;
    void *arg;
    double deadline;            /* monotonic seconds */
    unsigned timeout_ms;
    struct waiter *next;
};

/* One transfer (or one queued submission waiting to become one). */
struct job {
    char *url, *content_type;
    unsigned char *body;        /* the POST body; NULL for GET */
    size_t body_len;
    struct waiter *waiters;
    size_t n_waiters;
    CURL *easy;
    struct curl_slist *headers;
    unsigned char *resp;        /* received so far */
    size_t resp_len, resp_cap, max_bytes;
    bool too_big;
    double started;
    char curl_err[CURL_ERROR_SIZE];
    struct job *next;           /* in queued or running */
    struct job *start_next;     /* the fetcher thread's list of jobs to start */
};

struct negative {
    char *url;
    unsigned char *body;
    size_t body_len;
    double until;               /* monotonic seconds */
    unsigned failures;
    char *error;
};

struct cg_fetcher {
    struct cg_fetch_opts o;
    pthread_t thread;
    pthread_mutex_t lock;
    CURLM *multi;
    bool stopping, started;
    struct job *queued;         /* submitted, not yet started (under lock) */
    struct job *running;        /* in the multi handle (fetcher thread only, and
                                   under lock for coalescing lookups) */
    unsigned n_running;
    unsigned n_pending;         /* distinct jobs queued or running (under lock) */
    struct negative neg[NEG_MAX];
    size_t n_neg;
    /* The periodic call on the fetcher thread (background refresh). */
    void (*tick)(void *arg);
    void *tick_arg;
    unsigned tick_ms;
    double next_tick;           /* monotonic seconds */
};

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static bool same_request(const char *url, const void *body, size_t body_len, const char *u2,
                         const unsigned char *b2, size_t l2)
{
    return strcmp(url, u2) == 0 && body_len == l2 &&
           (body_len == 0 || memcmp(body, b2, body_len) == 0);
}

static void job_free(struct job *j)
{
    if (j == NULL)
        return;
    free(j->url);
    free(j->content_type);
    free(j->body);
    free(j->resp);
    curl_slist_free_all(j->headers);
    if (j->easy != NULL)
        curl_easy_cleanup(j->easy);
    for (struct waiter *w = j->waiters, *n; w != NULL; w = n) {
        n = w->next;
        free(w);
    }
    free(j);
}

/* Calls every waiter of j with r, then frees j. Fetcher thread (or free). */
static void job_finish(struct job *j, struct cg_fetch_result *r)
{
    bool first = true;
    for (struct waiter *w = j->waiters; w != NULL; w = w->next) {
        /* Waiters after the first joined a transfer that already ran. */
        r->coalesced = !first;
        w->cb(w->arg, r);
        first = false;
    }
    job_free(j);
}

static struct negative *neg_find(struct cg_fetcher *f, const char *url, const void *body,
                                 size_t body_len)
{
    for (size_t i = 0; i < f->n_neg; i++) {
        struct negative *n = &f->neg[i];
        if (same_request(url, body, body_len, n->url, n->body, n->body_len))
            return n;
    }
    return NULL;
}

static void neg_clear(struct negative *n)
{
    free(n->url);
    free(n->body);
    free(n->error);
    memset(n, 0, sizeof(*n));
}

/* Under lock. Records a failure with a doubled backoff, or forgets on success. */
static void neg_record(struct cg_fetcher *f, const struct job *j, const char *error)
{
    struct negative *n = neg_find(f, j->url, j->body, j->body_len);
    unsigned shift, ms;

    if (error == NULL) {
        if (n != NULL) {
            neg_clear(n);
            *n = f->neg[--f->n_neg];
            memset(&f->neg[f->n_neg], 0, sizeof(f->neg[0]));
        }
        return;
    }
    if (n == NULL) {
        if (f->n_neg == NEG_MAX) {   /* forget the entry closest to expiry */
            size_t oldest = 0;
            for (size_t i = 1; i < f->n_neg; i++)
                if (f->neg[i].until < f->neg[oldest].until)
                    oldest = i;
            neg_clear(&f->neg[oldest]);
            f->neg[oldest] = f->neg[--f->n_neg];
            memset(&f->neg[f->n_neg], 0, sizeof(f->neg[0]));
        }
        n = &f->neg[f->n_neg];
        n->url = strdup(j->url);
        n->body = j->body_len ? malloc(j->body_len) : NULL;
        if (n->url == NULL || (j->body_len && n->body == NULL)) {
            neg_clear(n);
            return;
        }
        if (j->body_len)
            memcpy(n->body, j->body, j->body_len);
        n->body_len = j->body_len;
        f->n_neg++;
    }
    n->failures++;
    shift = n->failures - 1 > 16 ? 16 : n->failures - 1;
    ms = (unsigned)((uint64_t)f->o.backoff_ms << shift > f->o.backoff_max_ms
                        ? f->o.backoff_max_ms
                        : (uint64_t)f->o.backoff_ms << shift);
    n->until = mono_s() + ms / 1000.0;
    free(n->error);
    n->error = strdup(error);
}

/* The size limit is checked as data arrives, so an endless body stops
 * early whatever Content-Length said (or did not say). */
static size_t on_data(char *data, size_t size, size_t nmemb, void *arg)
{
    struct job *j = arg;
    size_t n = size * nmemb;

    if (j->resp_len + n > j->max_bytes) {
        j->too_big = true;
        return 0;
    }
    if (j->resp_len + n > j->resp_cap) {
        size_t cap = j->resp_cap ? j->resp_cap : 16384;
        unsigned char *p;
        while (cap < j->resp_len + n)
            cap *= 2;
        p = realloc(j->resp, cap);
        if (p == NULL)
            return 0;
        j->resp = p;
        j->resp_cap = cap;
    }
    memcpy(j->resp + j->resp_len, data, n);
    j->resp_len += n;
    return n;
}

static int start(struct cg_fetcher *f, struct job *j)
{
    CURL *e = curl_easy_init();
    if (e == NULL)
        return CG_ERR;
    j->easy = e;
    j->max_bytes = f->o.max_bytes;
    curl_easy_setopt(e, CURLOPT_URL, j->url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    /* No curl timeout: each waiter has its own deadline (expire_waiters),
     * and the transfer is dropped when the last waiter's has passed. */
    curl_easy_setopt(e, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)f->o.max_bytes);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, j);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->curl_err);
    curl_easy_setopt(e, CURLOPT_PRIVATE, j);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "certgate");
    if (j->body != NULL || j->content_type != NULL) {
        char *h = NULL;
        if (asprintf(&h, "Content-Type: %s", j->content_type ? j->content_type
                                                             : "application/octet-stream") < 0)
            return CG_ERR;
        j->headers = curl_slist_append(NULL, h);
        free(h);
        if (j->headers == NULL)
            return CG_ERR;
        curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)j->body_len);
    }
    j->started = mono_s();
    if (curl_multi_add_handle(f->multi, e) != CURLM_OK)
        return CG_ERR;
    return CG_OK;
}

/* Under lock: unlinks j from the queued or running list. */
static void unlink_job(struct cg_fetcher *f, struct job *j, bool running)
{
    for (struct job **pp = running ? &f->running : &f->queued; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == j) {
            *pp = j->next;
            break;
        }
    }
    if (running)
        f->n_running--;
    f->n_pending--;
}

static void complete(struct cg_fetcher *f, struct job *j, CURLcode code)
{
    struct cg_fetch_result r = {.rc = CG_ERR};
    char msg[CURL_ERROR_SIZE + 64];
    char *ct = NULL;
    long status = 0;

    r.elapsed_ms = (mono_s() - j->started) * 1000.0;
    curl_easy_getinfo(j->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(j->easy, CURLINFO_CONTENT_TYPE, &ct);
    r.http_status = status;
    r.content_type = ct;
    msg[0] = '\0';
    if (j->too_big || code == CURLE_FILESIZE_EXCEEDED) {
        r.outcome = CG_FETCH_TOO_LARGE;
        snprintf(msg, sizeof(msg), "the answer is over the size limit of %zu bytes",
                 f->o.max_bytes);
    } else if (code != CURLE_OK) {
        r.outcome = CG_FETCH_NETWORK_ERROR;
        snprintf(msg, sizeof(msg), "%s", j->curl_err[0] ? j->curl_err : curl_easy_strerror(code));
    } else if (status != 200) {
        r.outcome = CG_FETCH_HTTP_ERROR;
        snprintf(msg, sizeof(msg), "HTTP %ld", status);
    } else if (j->resp_len == 0) {
        r.outcome = CG_FETCH_EMPTY;
        snprintf(msg, sizeof(msg), "empty answer");
    } else {
        r.rc = CG_OK;
        r.body = j->resp;
        r.len = j->resp_len;
    }
    if (r.rc != CG_OK)
        r.error = msg;
    pthread_mutex_lock(&f->lock);
    neg_record(f, j, r.rc == CG_OK ? NULL : msg);
    /* unlink from running, so no new waiter joins a finished transfer */
    unlink_job(f, j, true);
    pthread_mutex_unlock(&f->lock);
    curl_multi_remove_handle(f->multi, j->easy);
    job_finish(j, &r);
}

/*
 * Fetcher thread. Every waiter whose deadline has passed gets its "timed
 * out" at once; a transfer no one waits for any more is dropped and
 * counted as a failure of its URL (the backoff). Returns the milliseconds
 * until the next deadline (at most `cap`), for the poll.
 */
static int expire_waiters(struct cg_fetcher *f, int cap)
{
    struct waiter *expired = NULL;
    struct job *dead = NULL;
    double now = mono_s(), next = now + cap / 1000.0;

    pthread_mutex_lock(&f->lock);
    for (int k = 0; k < 2; k++) {
        struct job *j = k == 0 ? f->queued : f->running, *jn;
        for (; j != NULL; j = jn) {
            jn = j->next;
            for (struct waiter **pp = &j->waiters; *pp != NULL;) {
                struct waiter *w = *pp;
                if (w->deadline <= now) {
                    *pp = w->next;
                    w->next = expired;
                    expired = w;
                    j->n_waiters--;
                    continue;
                }
                if (w->deadline < next)
                    next = w->deadline;
                pp = &w->next;
            }
            if (j->waiters == NULL) {
                char msg[64];
                snprintf(msg, sizeof(msg), "timed out after %.0f ms",
                         j->started > 0 ? (now - j->started) * 1000.0 : 0.0);
                neg_record(f, j, msg);
                unlink_job(f, j, k == 1);
                j->start_next = dead;
                dead = j;
            }
        }
    }
    pthread_mutex_unlock(&f->lock);
    while (expired != NULL) {
        struct waiter *w = expired;
        char msg[64];
        struct cg_fetch_result r = {.rc = CG_ERR, .error = msg, .outcome = CG_FETCH_TIMEOUT};
        expired = w->next;
        snprintf(msg, sizeof(msg), "timed out after %u ms", w->timeout_ms);
        r.elapsed_ms = w->timeout_ms;
        w->cb(w->arg, &r);
        free(w);
    }
    while (dead != NULL) {
        struct job *j = dead;
        dead = j->start_next;
        if (j->easy != NULL)
            curl_multi_remove_handle(f->multi, j->easy);
        job_free(j);
    }
    return (int)((next - now) * 1000.0) + 1;
}

static void *run(void *arg)
{
    struct cg_fetcher *f = arg;

    for (;;) {
        struct job *todo = NULL;
        void (*tick)(void *) = NULL;
        void *tick_arg = NULL;
        CURLMsg *m;
        int left, still, wait_ms;
        bool stop;

        /* queued -> running in one step under the lock, so a request
         * submitted meanwhile always finds the job to join */
        pthread_mutex_lock(&f->lock);
        stop = f->stopping;
        if (!stop && f->tick != NULL && mono_s() >= f->next_tick) {
            tick = f->tick;
            tick_arg = f->tick_arg;
            f->next_tick = mono_s() + f->tick_ms / 1000.0;
        }
        while (!stop && f->queued != NULL && f->n_running < f->o.max_parallel) {
            struct job *j = f->queued;
            f->queued = j->next;
            j->next = f->running;
            f->running = j;
            j->start_next = todo;
            todo = j;
            f->n_running++;
        }
        pthread_mutex_unlock(&f->lock);
        if (stop)
            break;
        /* Outside the lock: the tick submits fetches of its own. */
        if (tick != NULL)
            tick(tick_arg);
        while (todo != NULL) {
            struct job *j = todo;
            todo = j->start_next;
            if (start(f, j) != CG_OK) {
                snprintf(j->curl_err, sizeof(j->curl_err), "cannot start the transfer");
                complete(f, j, CURLE_FAILED_INIT);
            }
        }
        curl_multi_perform(f->multi, &still);
        while ((m = curl_multi_info_read(f->multi, &left)) != NULL) {
            struct job *j = NULL;
            if (m->msg != CURLMSG_DONE)
                continue;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&j);
            complete(f, j, m->data.result);
        }
        wait_ms = expire_waiters(f, 1000);
        pthread_mutex_lock(&f->lock);
        if (f->tick != NULL) {
            int to_tick = (int)((f->next_tick - mono_s()) * 1000.0) + 1;
            if (to_tick < wait_ms)
                wait_ms = to_tick < 0 ? 0 : to_tick;
        }
        pthread_mutex_unlock(&f->lock);
        curl_multi_poll(f->multi, NULL, 0, wait_ms, NULL);
    }
    return NULL;
}

struct cg_fetcher *cg_fetcher_new(const struct cg_fetch_opts *opts, char **err)
{
    struct cg_fetcher *f = calloc(1, sizeof(*f));

    if (f == NULL) {
        cg_set_err(err, "out of memory");
        return NULL;
    }
    if (opts != NULL)
        f->o = *opts;
    if (f->o.timeout_ms == 0)
        f->o.timeout_ms = 5000;
    if (f->o.max_bytes == 0)
        f->o.max_bytes = 64u * 1024 * 1024;
    if (f->o.backoff_ms == 0)
        f->o.backoff_ms = 1000;
    if (f->o.backoff_max_ms == 0)
        f->o.backoff_max_ms = 60000;
    if (f->o.max_parallel == 0)
        f->o.max_parallel = 16;
    if (f->o.max_pending == 0)
        f->o.max_pending = 4096;
    pthread_mutex_init(&f->lock, NULL);
    /* curl_global_init is idempotent but not thread-safe before 7.84;
     * the first fetcher is made at start-up, before worker threads. */
    curl_global_init(CURL_GLOBAL_DEFAULT);
    f->multi = curl_multi_init();
    if (f->multi == NULL || pthread_create(&f->thread, NULL, run, f) != 0) {
        cg_set_err(err, "cannot start the revocation fetcher");
        curl_multi_cleanup(f->multi);
        pthread_mutex_destroy(&f->lock);
        free(f);
        return NULL;
    }
    f->started = true;
    return f;
}

void cg_fetcher_free(struct cg_fetcher *f)
{
    struct cg_fetch_result r = {.rc = CG_ERR, .outcome = CG_FETCH_CANCELLED, .error = "cancelled"};

    if (f == NULL)
        return;
    pthread_mutex_lock(&f->lock);
    f->stopping = true;
    pthread_mutex_unlock(&f->lock);
    curl_multi_wakeup(f->multi);
    pthread_join(f->thread, NULL);
    while (f->running != NULL) {
        struct job *j = f->running;
        f->running = j->next;
        curl_multi_remove_handle(f->multi, j->easy);
        job_finish(j, &r);
    }
    while (f->queued != NULL) {
        struct job *j = f->queued;
        f->queued = j->next;
        job_finish(j, &r);
    }
    for (size_t i = 0; i < f->n_neg; i++)
        neg_clear(&f->neg[i]);
    curl_multi_cleanup(f->multi);
    pthread_mutex_destroy(&f->lock);
    free(f);
}

void cg_fetcher_set_tick(struct cg_fetcher *f, unsigned interval_ms, void (*tick)(void *arg),
                         void *arg)
{
    pthread_mutex_lock(&f->lock);
    f->tick = tick;
    f->tick_arg = arg;
    f->tick_ms = interval_ms != 0 ? interval_ms : 1000;
    f->next_tick = mono_s();
    pthread_mutex_unlock(&f->lock);
    curl_multi_wakeup(f->multi);
}

/* Under lock: the queued or running job for the same request. */
static struct job *find_job(struct cg_fetcher *f, const char *url, const void *body,
                            size_t body_len)
{
    struct job *lists[2] = {f->queued, f->running};
    for (int k = 0; k < 2; k++) {
        for (struct job *j = lists[k]; j != NULL; j = j->next) {
            if (same_request(url, body, body_len, j->url, j->body, j->body_len))
                return j;
        }
    }
    return NULL;
}

int cg_fetcher_submit(struct cg_fetcher *f, const char *url, const char *content_type,
                      const void *body, size_t body_len, cg_fetch_cb cb, void *arg,
                      char **err)
{
    return cg_fetcher_submit_timed(f, url, content_type, body, body_len, 0, cb, arg, err);
}

int cg_fetcher_submit_timed(struct cg_fetcher *f, const char *url, const char *content_type,
                            const void *body, size_t body_len, unsigned timeout_ms,
                            cg_fetch_cb cb, void *arg, char **err)
{
    struct waiter *w;
    struct job *j;
    struct negative *n;

    if (f == NULL || url == NULL || cb == NULL)
        return cg_set_err(err, "nothing to fetch");
    if (strncasecmp(url, "http://", 7) != 0)
        return cg_set_err(err, "%s: only http:// URLs are fetched", url);
    w = calloc(1, sizeof(*w));
    if (w == NULL)
        return cg_set_err(err, "out of memory");
    w->cb = cb;
    w->arg = arg;
    w->timeout_ms = timeout_ms != 0 ? timeout_ms : f->o.timeout_ms;
    w->deadline = mono_s() + w->timeout_ms / 1000.0;
    pthread_mutex_lock(&f->lock);
    if (f->stopping) {
        pthread_mutex_unlock(&f->lock);
        free(w);
        return cg_set_err(err, "the fetcher is stopping");
    }
    n = neg_find(f, url, body, body_len);
    if (n != NULL && n->until > mono_s()) {
        char msg[512];
        struct cg_fetch_result r = {.rc = CG_ERR, .outcome = CG_FETCH_BACKOFF,
                                    .negative_cached = true, .error = msg};
        snprintf(msg, sizeof(msg), "failed recently (%s); not retried for another %.1f s",
                 n->error ? n->error : "?", n->until - mono_s());
        pthread_mutex_unlock(&f->lock);
        free(w);
        cb(arg, &r);
        return CG_OK;
    }
    j = find_job(f, url, body, body_len);
    if (j != NULL) {
        /* coalesce: append, so the first submitter stays first */
        struct waiter **pp = &j->waiters;
        while (*pp != NULL)
            pp = &(*pp)->next;
        *pp = w;
        j->n_waiters++;
        pthread_mutex_unlock(&f->lock);
        /* a later deadline than the fetcher sleeps for is fine; an earlier
         * one must wake it */
        curl_multi_wakeup(f->multi);
        return CG_OK;
    }
    if (f->n_pending >= f->o.max_pending) {
        pthread_mutex_unlock(&f->lock);
        free(w);
        return cg_set_err(err, "%s: %u fetches already pending", url, f->o.max_pending);
    }
    j = calloc(1, sizeof(*j));
    if (j != NULL) {
        j->url = strdup(url);
        j->content_type = content_type ? strdup(content_type) : NULL;
        j->body = body_len ? malloc(body_len) : NULL;
    }
    if (j == NULL || j->url == NULL || (content_type && j->content_type == NULL) ||
        (body_len && j->body == NULL)) {
        pthread_mutex_unlock(&f->lock);
        job_free(j);
        free(w);
        return cg_set_err(err, "out of memory");
    }
    if (body_len)
        memcpy(j->body, body, body_len);
    j->body_len = body_len;
    j->waiters = w;
    j->n_waiters = 1;
    f->n_pending++;
    /* append: first come, first started */
    {
        struct job **pp = &f->queued;
        while (*pp != NULL)
            pp = &(*pp)->next;
        *pp = j;
    }
    pthread_mutex_unlock(&f->lock);
    curl_multi_wakeup(f->multi);
    return CG_OK;
}

/* ---- blocking form ------------------------------------------------------ */

struct sync_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    struct cg_fetch_copy *out;
};

static char *dup_or_null(const char *s)
{
    return s != NULL ? strdup(s) : NULL;
}

static void sync_cb(void *arg, const struct cg_fetch_result *r)
{
    struct sync_wait *s = arg;
    struct cg_fetch_copy *o = s->out;

    o->rc = r->rc;
    o->http_status = r->http_status;
    o->elapsed_ms = r->elapsed_ms;
    o->coalesced = r->coalesced;
    o->negative_cached = r->negative_cached;
    o->content_type = dup_or_null(r->content_type);
    o->error = dup_or_null(r->error);
    if (r->len > 0) {
        o->body = malloc(r->len);
        if (o->body != NULL) {
            memcpy(o->body, r->body, r->len);
            o->len = r->len;
        } else {
            o->rc = CG_ERR;
            free(o->error);
            o->error = strdup("out of memory");
        }
    }
    pthread_mutex_lock(&s->lock);
    s->done = true;
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
}

int cg_fetcher_fetch(struct cg_fetcher *f, const char *url, const char *content_type,
                     const void *body, size_t body_len, struct cg_fetch_copy *out, char **err)
{
    struct sync_wait s = {.out = out};
    int rc;

    memset(out, 0, sizeof(*out));
    pthread_mutex_init(&s.lock, NULL);
    pthread_cond_init(&s.cond, NULL);
    rc = cg_fetcher_submit(f, url, content_type, body, body_len, sync_cb, &s, err);
    if (rc == CG_OK) {
        pthread_mutex_lock(&s.lock);
        while (!s.done)
            pthread_cond_wait(&s.cond, &s.lock);
        pthread_mutex_unlock(&s.lock);
    }
    pthread_cond_destroy(&s.cond);
    pthread_mutex_destroy(&s.lock);
    return rc;
}

void cg_fetch_copy_free(struct cg_fetch_copy *c)
{
    if (c == NULL)
        return;
    free(c->body);
    free(c->content_type);
    free(c->error);
    memset(c, 0, sizeof(*c));
}
