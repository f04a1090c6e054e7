/*
 * loadgen.h: a load generator for mutual-TLS HTTPS servers on loopback.
 *
 * One process, one epoll loop per thread, non-blocking sockets and OpenSSL
 * client connections that present a certificate chain. Modes:
 *   new        a full handshake per request (Connection: close)
 *   resume     a resumed handshake per request (TLS 1.3 PSK ticket or
 *              TLS 1.2 session id / ticket), after a first full one
 *   keepalive  many requests per connection, one outstanding at a time
 *   idle       open N connections, one request each, then hold them
 *
 * It only ever connects to 127.0.0.1: the address is checked when options
 * are parsed and again before every connect(2), so no option, typo or
 * script can point the load at another machine.
 *
 * Ownership: main.c owns the options and the workers; each worker owns its
 * SSL_CTX, epoll descriptor, connections and statistics; nothing is shared
 * between workers but struct lg_shared, whose fields are atomics or are
 * written before the threads start.
 */
#ifndef CG_BENCH_LOADGEN_H
#define CG_BENCH_LOADGEN_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <openssl/ssl.h>

/* ---- bounds: every count and every wait has one ------------------------- */

#define LG_MAX_CONCURRENCY   20000
#define LG_MAX_IDLE          100000
#define LG_MAX_THREADS       64
#define LG_MAX_DURATION_S    3600.0
#define LG_MAX_WARMUP_S      600.0
#define LG_MAX_TIMEOUT_S     600.0
#define LG_MAX_PATH          1024
#define LG_MAX_NAME          255
#define LG_HDR_MAX           4096     /* response head; ours are ~300 bytes */
#define LG_MAX_BODY          (1ULL << 30)
#define LG_TICK_NS           10000000ULL  /* timeout and back-off scan period */
#define LG_BACKOFF_NS        10000000ULL  /* after a failed connection, before the next */
#define LG_DRIVE_STEPS       64       /* state transitions per readiness event */

enum lg_mode { LG_MODE_NEW, LG_MODE_RESUME, LG_MODE_KEEPALIVE, LG_MODE_IDLE };

/* Errors are counted by the step that failed. */
#define LG_ERROR_KINDS(X)                                              \
    X(CONNECT,   "connect")    /* socket, connect(2), refused */      \
    X(HANDSHAKE, "handshake")  /* TLS handshake failed */             \
    X(WRITE,     "write")      /* sending the request */              \
    X(READ,      "read")       /* the response: closed, reset, TLS */ \
    X(PARSE,     "parse")      /* a response that is not strict HTTP/1.1 */ \
    X(TIMEOUT,   "timeout")    /* no answer within --timeout */

enum lg_error_kind {
#define LG_X(e, s) LG_E_##e,
    LG_ERROR_KINDS(LG_X)
#undef LG_X
    LG_E_COUNT
};

const char *lg_error_name(enum lg_error_kind k);

struct lg_opts {
    struct sockaddr_in addr;          /* always 127.0.0.1 */
    char host[64];                    /* as given, for the report */
    const char *sni;                  /* NULL: no server_name, verify the IP */
    const char *cert, *key, *ca;      /* client chain, its key, the server's CA */
    enum lg_mode mode;
    unsigned concurrency;             /* connections (idle: handshakes in flight) */
    unsigned threads;
    unsigned idle_count;
    double duration_s, warmup_s, timeout_s;
    uint64_t max_requests;            /* 0: no cap */
    int tls_version;                  /* 0 (1.2 or 1.3), TLS1_2_VERSION, TLS1_3_VERSION */
    char path[LG_MAX_PATH + 1];
    bool json;
    bool provider_keys;               /* --key-decode provider: OpenSSL's default */
    bool openssl_key_schedule;        /* --key-schedule openssl: OpenSSL's default */
    bool openssl_key_exchange;        /* --key-exchange openssl: OpenSSL's default */
    bool quick_acks;                  /* --acks quick: the kernel's default on connect */
};

/* ---- latency histogram: log-linear, microseconds, < 1.6% error --------- */

#define LG_HIST_SUB_BITS 6
#define LG_HIST_SUB      (1u << LG_HIST_SUB_BITS)
#define LG_HIST_BUCKETS  2048

struct lg_hist {
    uint64_t count, sum_us, max_us;
    uint64_t b[LG_HIST_BUCKETS];
};

void lg_hist_add(struct lg_hist *h, uint64_t us);
void lg_hist_merge(struct lg_hist *into, const struct lg_hist *from);
/* The value at quantile q (0 < q <= 1), as the upper edge of its bucket but
 * never above the exact maximum; 0 when empty. */
uint64_t lg_hist_quantile(const struct lg_hist *h, double q);

/* ---- statistics ----------------------------------------------------------- */

#define LG_STATUS_MAX 600

struct lg_stats {
    /* within the measurement window */
    uint64_t requests;
    uint64_t handshakes_full, handshakes_resumed;
    uint64_t body_bytes;
    uint64_t status[LG_STATUS_MAX];
    struct lg_hist latency;
    /* over the whole run, warm-up included: any error is worth seeing */
    uint64_t errors[LG_E_COUNT];
    char error_sample[LG_E_COUNT][160];   /* the first message of each kind */
    /* idle mode */
    uint64_t idle_held;
};

void lg_stats_merge(struct lg_stats *into, const struct lg_stats *from);

/* ---- strict HTTP/1.1 response head ---------------------------------------- */

struct lg_http_resp {
    int status;
    int minor;                 /* HTTP/1.<minor> */
    bool has_length;
    uint64_t content_length;
    bool keep_alive;           /* the connection may carry another request */
    size_t head_len;           /* bytes up to and including the empty line */
};

/*
 * Parses the response head at buf[0..len). Returns 1 when the head is
 * complete and valid (r filled), 0 when more bytes are needed, -1 when it
 * is malformed (*why says how; a static string). A response without
 * Content-Length (other than 1xx/204/304) or with Transfer-Encoding is
 * refused: the servers measured answer static files with a length.
 */
int lg_http_parse(const char *buf, size_t len, struct lg_http_resp *r, const char **why);

/* ---- workers -------------------------------------------------------------- */

struct lg_shared {
    const struct lg_opts *o;
    uint64_t t_begin;              /* CLOCK_MONOTONIC ns, set before threads start */
    uint64_t t_measure;            /* end of the warm-up */
    uint64_t t_end;                /* end of the run, unless stopped earlier */
    _Atomic uint64_t t_stopped;    /* 0, or when the cap or a signal ended it */
    _Atomic uint64_t measured;     /* requests counted so far, for --requests */
    _Atomic unsigned settled;      /* idle: workers whose connections are set up */
    _Atomic uint64_t held;         /* idle: connections held, all workers */
    _Atomic int ready_printed;
    char tls_version[16];          /* what the first handshake negotiated */
    char cipher[64];
    pthread_mutex_t first_lock;    /* guards the two strings above */
};

struct lg_worker {
    struct lg_shared *sh;
    unsigned id;
    unsigned n_conns;              /* slots: concurrency share or idle share */
    unsigned in_flight_max;        /* idle mode: set-ups at once */
    pthread_t thread;
    struct lg_stats stats;
    char err[256];                 /* set when the worker could not start */
    int rc;
};

/* The thread body: runs one worker until the end of the run. */
void *lg_worker_run(void *arg);

uint64_t lg_now_ns(void);

/* Set by SIGTERM / SIGINT; workers poll it at least every LG_TICK_NS. */
extern _Atomic int lg_signalled;

#endif
