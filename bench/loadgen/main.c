/*
 * main.c: loadgen's options, threads, timing and report.
 *
 *   loadgen --port P --ca SERVER_CA.pem [--cert CHAIN.pem --key KEY.pem]
 *           [--mode new|resume|keepalive|idle] [--concurrency C] ...
 *
 * Exit status: 0 the run completed without an error, 3 it completed with
 * errors (the report counts them), 1 it could not start, 2 bad usage.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>
#include <openssl/err.h>

#include "cert/ec_keydecode.h"
#include "core/common.h"
#include "loadgen.h"
#include "tls/key_exchange.h"
#include "tls/key_schedule.h"

#define MAX_SERVER_PIDS 8

struct run {
    struct lg_opts o;
    pid_t server_pids[MAX_SERVER_PIDS];
    unsigned n_server_pids;
    double window_s;
    double client_cpu_s, server_cpu_s;   /* within the window; < 0 unknown */
    struct lg_stats total;
};

static void usage(FILE *out)
{
    fprintf(out,
            "usage: loadgen --port P --ca SERVER_CA.pem [options]\n"
            "\n"
            "  --host 127.0.0.1       the only target there is: anything else is refused\n"
            "  --port P               server port\n"
            "  --sni NAME             server_name to send; the server certificate must match\n"
            "                         it (without: no SNI, the certificate must match 127.0.0.1)\n"
            "  --cert FILE            client certificate and its chain (PEM)\n"
            "  --key FILE             its private key\n"
            "  --ca FILE              CA certificate(s) that verify the server\n"
            "  --mode M               new | resume | keepalive | idle (default new)\n"
            "  --concurrency C        connections (idle: handshakes in flight) (default 32)\n"
            "  --threads T            worker threads, each its own epoll loop (default 1)\n"
            "  --duration S           measured seconds; idle: longest hold (default 10)\n"
            "  --warmup S             seconds of load not measured first (default 1; idle 0)\n"
            "  --requests N           stop after N measured requests (default: no cap)\n"
            "  --timeout S            per connect / handshake / response (default 10)\n"
            "  --tls 1.2|1.3          the only version offered (default both)\n"
            "  --path /FILE           request target (default /)\n"
            "  --idle-count N         idle: connections to open and hold (default 1000)\n"
            "  --server-pid PID       also report this process's CPU use in the window\n"
            "                         (repeatable, up to %d)\n"
            "  --key-decode M         legacy (default): the server's EC keys are decoded\n"
            "                         by OpenSSL's built-in EC method, a third cheaper per\n"
            "                         handshake; provider: OpenSSL 3's decoders\n"
            "  --key-schedule M       builtin (default): the TLS 1.3 key schedule and\n"
            "                         Finished HMACs by certgate's provider (as the\n"
            "                         server's tls_key_schedule); openssl: OpenSSL's\n"
            "                         default provider\n"
            "  --key-exchange M       builtin (default): X25519 key generation and\n"
            "                         agreement by certgate's provider (as the\n"
            "                         server's tls_key_exchange); openssl: OpenSSL's\n"
            "                         default provider\n"
            "  --json                 one JSON object instead of text\n"
            "\n"
            "Idle mode prints \"idle-ready N\" once its connections are set up (N held),\n"
            "then holds them until SIGTERM or the duration ends.\n",
            MAX_SERVER_PIDS);
}

static int parse_double(const char *s, double lo, double hi, double *out)
{
    char *end = NULL;
    double v;

    errno = 0;
    v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= lo && v <= hi))
        return -1;
    *out = v;
    return 0;
}

static int parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end = NULL;
    unsigned long long v;

    if (*s < '0' || *s > '9')
        return -1;
    errno = 0;
    v = strtoull(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < lo || v > hi)
        return -1;
    *out = v;
    return 0;
}

/* The first of the two loopback checks: only the literal 127.0.0.1. */
static int set_host(struct lg_opts *o, const char *s)
{
    struct in_addr a;

    if (inet_pton(AF_INET, s, &a) != 1 || a.s_addr != htonl(INADDR_LOOPBACK)) {
        fprintf(stderr, "loadgen: refusing target '%s': load only ever goes to 127.0.0.1\n", s);
        return -1;
    }
    snprintf(o->host, sizeof(o->host), "%s", s);
    o->addr.sin_family = AF_INET;
    o->addr.sin_addr = a;
    return 0;
}

static bool path_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > LG_MAX_PATH || s[0] != '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)s[i] <= 0x20 || (unsigned char)s[i] >= 0x7f)
            return false;
    }
    return true;
}

static bool name_ok(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > LG_MAX_NAME)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_'))
            return false;
    }
    return true;
}

/* Returns 0, or 2 (usage) with a message printed. */
static int parse_args(struct run *r, int argc, char **argv)
{
    enum { O_HOST = 256, O_PORT, O_SNI, O_CERT, O_KEY, O_CA, O_MODE, O_CONC, O_THREADS,
           O_DURATION, O_WARMUP, O_REQUESTS, O_TIMEOUT, O_TLS, O_PATH, O_IDLE, O_PID, O_JSON,
           O_KEYDEC, O_KEYSCHED, O_KEYEXCH, O_HELP };
    static const struct option opts[] = {
        {"host", required_argument, NULL, O_HOST},       {"port", required_argument, NULL, O_PORT},
        {"sni", required_argument, NULL, O_SNI},         {"cert", required_argument, NULL, O_CERT},
        {"key", required_argument, NULL, O_KEY},         {"ca", required_argument, NULL, O_CA},
        {"mode", required_argument, NULL, O_MODE},       {"concurrency", required_argument, NULL, O_CONC},
        {"threads", required_argument, NULL, O_THREADS}, {"duration", required_argument, NULL, O_DURATION},
        {"warmup", required_argument, NULL, O_WARMUP},   {"requests", required_argument, NULL, O_REQUESTS},
        {"timeout", required_argument, NULL, O_TIMEOUT}, {"tls", required_argument, NULL, O_TLS},
        {"path", required_argument, NULL, O_PATH},       {"idle-count", required_argument, NULL, O_IDLE},
        {"server-pid", required_argument, NULL, O_PID},  {"json", no_argument, NULL, O_JSON},
        {"key-decode", required_argument, NULL, O_KEYDEC},
        {"key-schedule", required_argument, NULL, O_KEYSCHED},
        {"key-exchange", required_argument, NULL, O_KEYEXCH},
        {"help", no_argument, NULL, O_HELP},             {NULL, 0, NULL, 0},
    };
    struct lg_opts *o = &r->o;
    bool warmup_set = false;
    uint64_t u;
    int c, li = -1;

    o->mode = LG_MODE_NEW;
    o->concurrency = 32;
    o->threads = 1;
    o->idle_count = 1000;
    o->duration_s = 10;
    o->warmup_s = 1;
    o->timeout_s = 10;
    snprintf(o->path, sizeof(o->path), "/");
    if (set_host(o, "127.0.0.1") != 0)
        return 2;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "", opts, &li)) != -1) {
        const char *a = optarg;
        switch (c) {
        case O_HOST:
            if (set_host(o, a) != 0)
                return 2;
            break;
        case O_PORT:
            if (parse_u64(a, 1, 65535, &u) != 0)
                goto bad;
            o->addr.sin_port = htons((uint16_t)u);
            break;
        case O_SNI:
            if (!name_ok(a))
                goto bad;
            o->sni = a;
            break;
        case O_CERT: o->cert = a; break;
        case O_KEY: o->key = a; break;
        case O_CA: o->ca = a; break;
        case O_MODE:
            if (strcmp(a, "new") == 0)
                o->mode = LG_MODE_NEW;
            else if (strcmp(a, "resume") == 0)
                o->mode = LG_MODE_RESUME;
            else if (strcmp(a, "keepalive") == 0)
                o->mode = LG_MODE_KEEPALIVE;
            else if (strcmp(a, "idle") == 0)
                o->mode = LG_MODE_IDLE;
            else
                goto bad;
            break;
        case O_CONC:
            if (parse_u64(a, 1, LG_MAX_CONCURRENCY, &u) != 0)
                goto bad;
            o->concurrency = (unsigned)u;
            break;
        case O_THREADS:
            if (parse_u64(a, 1, LG_MAX_THREADS, &u) != 0)
                goto bad;
            o->threads = (unsigned)u;
            break;
        case O_DURATION:
            if (parse_double(a, 0.1, LG_MAX_DURATION_S, &o->duration_s) != 0)
                goto bad;
            break;
        case O_WARMUP:
            if (parse_double(a, 0, LG_MAX_WARMUP_S, &o->warmup_s) != 0)
                goto bad;
            warmup_set = true;
            break;
        case O_REQUESTS:
            if (parse_u64(a, 1, 1000000000000ULL, &o->max_requests) != 0)
                goto bad;
            break;
        case O_TIMEOUT:
            if (parse_double(a, 0.01, LG_MAX_TIMEOUT_S, &o->timeout_s) != 0)
                goto bad;
            break;
        case O_TLS:
            if (strcmp(a, "1.2") == 0)
                o->tls_version = TLS1_2_VERSION;
            else if (strcmp(a, "1.3") == 0)
                o->tls_version = TLS1_3_VERSION;
            else
                goto bad;
            break;
        case O_PATH:
            if (!path_ok(a))
                goto bad;
            snprintf(o->path, sizeof(o->path), "%s", a);
            break;
        case O_IDLE:
            if (parse_u64(a, 1, LG_MAX_IDLE, &u) != 0)
                goto bad;
            o->idle_count = (unsigned)u;
            break;
        case O_PID:
            if (parse_u64(a, 1, 4194304, &u) != 0 || r->n_server_pids == MAX_SERVER_PIDS)
                goto bad;
            r->server_pids[r->n_server_pids++] = (pid_t)u;
            break;
        case O_JSON: o->json = true; break;
        case O_KEYDEC:
            if (strcmp(a, "legacy") == 0)
                o->provider_keys = false;
            else if (strcmp(a, "provider") == 0)
                o->provider_keys = true;
            else
                goto bad;
            break;
        case O_KEYSCHED:
            if (strcmp(a, "builtin") == 0)
                o->openssl_key_schedule = false;
            else if (strcmp(a, "openssl") == 0)
                o->openssl_key_schedule = true;
            else
                goto bad;
            break;
        case O_KEYEXCH:
            if (strcmp(a, "builtin") == 0)
                o->openssl_key_exchange = false;
            else if (strcmp(a, "openssl") == 0)
                o->openssl_key_exchange = true;
            else
                goto bad;
            break;
        case O_HELP: usage(stdout); exit(0);
        default:
            fprintf(stderr, "loadgen: unknown option or missing value: %s\n", argv[optind - 1]);
            usage(stderr);
            return 2;
        }
        continue;
    bad:
        fprintf(stderr, "loadgen: bad value for --%s: '%s'\n", li >= 0 ? opts[li].name : "?",
                a != NULL ? a : "");
        return 2;
    }
    if (optind != argc) {
        fprintf(stderr, "loadgen: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    if (o->addr.sin_port == 0 || o->ca == NULL) {
        fprintf(stderr, "loadgen: --port and --ca are required\n");
        return 2;
    }
    if ((o->cert == NULL) != (o->key == NULL)) {
        fprintf(stderr, "loadgen: --cert and --key go together\n");
        return 2;
    }
    if (o->mode == LG_MODE_IDLE && !warmup_set)
        o->warmup_s = 0;
    return 0;
}

/* Enough descriptors for every slot, or a clear refusal. */
static int raise_nofile(unsigned need)
{
    struct rlimit rl;

    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    if (rl.rlim_cur >= need)
        return 0;
    if (rl.rlim_max < need) {
        fprintf(stderr, "loadgen: %u descriptors needed, the hard limit is %llu\n", need,
                (unsigned long long)rl.rlim_max);
        return -1;
    }
    rl.rlim_cur = need;
    return setrlimit(RLIMIT_NOFILE, &rl);
}

static void on_signal(int sig)
{
    (void)sig;
    atomic_store(&lg_signalled, 1);
}

static double cpu_self_s(void)
{
    struct rusage ru;

    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return -1;
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

/* utime + stime of the listed processes (all their threads), or -1. */
static double cpu_pids_s(const struct run *r)
{
    double total = 0;
    long tick = sysconf(_SC_CLK_TCK);

    if (r->n_server_pids == 0 || tick <= 0)
        return -1;
    for (unsigned i = 0; i < r->n_server_pids; i++) {
        char path[64], line[1024], *p;
        unsigned long long ut = 0, st = 0;
        FILE *f;
        size_t n;

        snprintf(path, sizeof(path), "/proc/%d/stat", (int)r->server_pids[i]);
        f = fopen(path, "r");
        if (f == NULL)
            return -1;
        n = fread(line, 1, sizeof(line) - 1, f);
        fclose(f);
        line[n] = '\0';
        /* the command name may hold spaces and parentheses: skip past the last ')' */
        p = strrchr(line, ')');
        if (p == NULL || sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                                &ut, &st) != 2)
            return -1;
        total += (double)(ut + st) / (double)tick;
    }
    return total;
}

/* Sleeps until `t` (monotonic ns), the end of the run or a signal, in
 * steps of one tick; bounded by t, which is at most warm-up + duration. */
static void wait_until(const struct lg_shared *sh, uint64_t t)
{
    for (;;) {
        uint64_t now = lg_now_ns();
        struct timespec ts = {0, (long)LG_TICK_NS};

        if (now >= t || atomic_load(&sh->t_stopped) != 0 || atomic_load(&lg_signalled) != 0)
            return;
        if (t - now < LG_TICK_NS)
            ts.tv_nsec = (long)(t - now);
        nanosleep(&ts, NULL);
    }
}

static const char *mode_name(enum lg_mode m)
{
    switch (m) {
    case LG_MODE_NEW: return "new";
    case LG_MODE_RESUME: return "resume";
    case LG_MODE_KEEPALIVE: return "keepalive";
    case LG_MODE_IDLE: return "idle";
    }
    return "?";
}

static uint64_t total_errors(const struct lg_stats *s)
{
    uint64_t n = 0;

    for (unsigned k = 0; k < LG_E_COUNT; k++)
        n += s->errors[k];
    return n;
}

static double per_s(uint64_t n, double window)
{
    return window > 0 ? (double)n / window : 0;
}

static double ms(uint64_t us)
{
    return (double)us / 1000.0;
}

static void report_text(const struct run *r, const struct lg_shared *sh)
{
    const struct lg_stats *s = &r->total;
    const struct lg_hist *h = &s->latency;
    uint64_t hs = s->handshakes_full + s->handshakes_resumed;
    bool first = true;

    printf("loadgen: %s mode, %s:%u, %s%s%s, %u connection%s, %u thread%s\n", mode_name(r->o.mode),
           r->o.host, (unsigned)ntohs(r->o.addr.sin_port),
           sh->tls_version[0] ? sh->tls_version : "no handshake", sh->cipher[0] ? " " : "",
           sh->cipher, r->o.concurrency,
           r->o.concurrency == 1 ? "" : "s", r->o.threads, r->o.threads == 1 ? "" : "s");
    if (r->o.mode == LG_MODE_IDLE) {
        printf("idle        %llu of %u connections held at the end\n",
               (unsigned long long)s->idle_held, r->o.idle_count);
        printf("set-up (ms) p50 %.3f  p90 %.3f  p99 %.3f  max %.3f\n",
               ms(lg_hist_quantile(h, 0.50)), ms(lg_hist_quantile(h, 0.90)),
               ms(lg_hist_quantile(h, 0.99)), ms(h->max_us));
    } else {
        printf("window      %.3f s after %.3f s of warm-up\n", r->window_s, r->o.warmup_s);
        printf("requests    %llu  %.1f/s\n", (unsigned long long)s->requests,
               per_s(s->requests, r->window_s));
        printf("handshakes  %llu  %.1f/s  (full %llu, resumed %llu, resumed ratio %.3f)\n",
               (unsigned long long)hs, per_s(hs, r->window_s),
               (unsigned long long)s->handshakes_full, (unsigned long long)s->handshakes_resumed,
               hs ? (double)s->handshakes_resumed / (double)hs : 0.0);
        printf("latency ms  p50 %.3f  p90 %.3f  p99 %.3f  max %.3f  mean %.3f  (%s)\n",
               ms(lg_hist_quantile(h, 0.50)), ms(lg_hist_quantile(h, 0.90)),
               ms(lg_hist_quantile(h, 0.99)), ms(h->max_us),
               h->count ? ms(h->sum_us / h->count) : 0.0,
               r->o.mode == LG_MODE_KEEPALIVE ? "from request write" : "from connect start");
    }
    printf("status     ");
    for (unsigned i = 0; i < LG_STATUS_MAX; i++) {
        if (s->status[i] != 0) {
            printf(" %u: %llu", i, (unsigned long long)s->status[i]);
            first = false;
        }
    }
    printf("%s\n", first ? " none" : "");
    printf("errors      %llu", (unsigned long long)total_errors(s));
    for (unsigned k = 0; k < LG_E_COUNT; k++)
        printf("%s%s %llu", k == 0 ? " (" : ", ", lg_error_name(k),
               (unsigned long long)s->errors[k]);
    printf(")\n");
    for (unsigned k = 0; k < LG_E_COUNT; k++) {
        if (s->error_sample[k][0] != '\0')
            printf("  first %s error: %s\n", lg_error_name(k), s->error_sample[k]);
    }
    if (r->window_s > 0 && r->client_cpu_s >= 0)
        printf("cpu         loadgen %.2f cores", r->client_cpu_s / r->window_s);
    if (r->window_s > 0 && r->server_cpu_s >= 0)
        printf(", server %.2f cores", r->server_cpu_s / r->window_s);
    if (r->window_s > 0 && r->client_cpu_s >= 0)
        printf("\n");
}

static int report_json(const struct run *r, const struct lg_shared *sh)
{
    const struct lg_stats *s = &r->total;
    const struct lg_hist *h = &s->latency;
    uint64_t hs = s->handshakes_full + s->handshakes_resumed;
    json_t *root = json_object(), *status = json_object(), *errors = json_object(),
           *samples = json_object(), *lat = json_object();
    char code[8];
    int rc = -1;

    if (root == NULL || status == NULL || errors == NULL || samples == NULL || lat == NULL)
        goto done;
    for (unsigned i = 0; i < LG_STATUS_MAX; i++) {
        if (s->status[i] != 0) {
            snprintf(code, sizeof(code), "%u", i);
            json_object_set_new(status, code, json_integer((json_int_t)s->status[i]));
        }
    }
    for (unsigned k = 0; k < LG_E_COUNT; k++) {
        json_object_set_new(errors, lg_error_name(k), json_integer((json_int_t)s->errors[k]));
        if (s->error_sample[k][0] != '\0')
            json_object_set_new(samples, lg_error_name(k), json_string(s->error_sample[k]));
    }
    json_object_set_new(errors, "total", json_integer((json_int_t)total_errors(s)));
    json_object_set_new(lat, "p50", json_real(ms(lg_hist_quantile(h, 0.50))));
    json_object_set_new(lat, "p90", json_real(ms(lg_hist_quantile(h, 0.90))));
    json_object_set_new(lat, "p99", json_real(ms(lg_hist_quantile(h, 0.99))));
    json_object_set_new(lat, "max", json_real(ms(h->max_us)));
    json_object_set_new(lat, "mean", json_real(h->count ? ms(h->sum_us / h->count) : 0.0));
    json_object_set_new(lat, "count", json_integer((json_int_t)h->count));

    json_object_set_new(root, "mode", json_string(mode_name(r->o.mode)));
    json_object_set_new(root, "port", json_integer(ntohs(r->o.addr.sin_port)));
    json_object_set_new(root, "tls", json_string(sh->tls_version));
    json_object_set_new(root, "cipher", json_string(sh->cipher));
    json_object_set_new(root, "concurrency", json_integer(r->o.concurrency));
    json_object_set_new(root, "threads", json_integer(r->o.threads));
    json_object_set_new(root, "warmup_s", json_real(r->o.warmup_s));
    json_object_set_new(root, "duration_s", json_real(r->window_s));
    json_object_set_new(root, "requests", json_integer((json_int_t)s->requests));
    json_object_set_new(root, "requests_per_s", json_real(per_s(s->requests, r->window_s)));
    json_object_set_new(root, "handshakes", json_integer((json_int_t)hs));
    json_object_set_new(root, "handshakes_per_s", json_real(per_s(hs, r->window_s)));
    json_object_set_new(root, "handshakes_full", json_integer((json_int_t)s->handshakes_full));
    json_object_set_new(root, "handshakes_resumed", json_integer((json_int_t)s->handshakes_resumed));
    json_object_set_new(root, "resumed_ratio",
                        json_real(hs ? (double)s->handshakes_resumed / (double)hs : 0.0));
    json_object_set_new(root, "body_bytes", json_integer((json_int_t)s->body_bytes));
    json_object_set_new(root, "latency_ms", lat);
    lat = NULL;
    json_object_set_new(root, "latency_from",
                        json_string(r->o.mode == LG_MODE_KEEPALIVE ? "request" : "connect"));
    json_object_set_new(root, "status", status);
    status = NULL;
    json_object_set_new(root, "errors", errors);
    errors = NULL;
    json_object_set_new(root, "error_samples", samples);
    samples = NULL;
    if (r->o.mode == LG_MODE_IDLE) {
        json_object_set_new(root, "idle_count", json_integer(r->o.idle_count));
        json_object_set_new(root, "idle_held", json_integer((json_int_t)s->idle_held));
    }
    if (r->window_s > 0 && r->client_cpu_s >= 0)
        json_object_set_new(root, "client_cpu", json_real(r->client_cpu_s / r->window_s));
    if (r->window_s > 0 && r->server_cpu_s >= 0) {
        json_object_set_new(root, "server_cpu", json_real(r->server_cpu_s / r->window_s));
        json_object_set_new(root, "server_cpu_us_per_request",
                            json_real(s->requests ? r->server_cpu_s * 1e6 / (double)s->requests : 0.0));
    }
    if (json_dumpf(root, stdout, JSON_COMPACT | JSON_REAL_PRECISION(6)) != 0)
        goto done;
    printf("\n");
    rc = 0;
done:
    json_decref(lat);
    json_decref(status);
    json_decref(errors);
    json_decref(samples);
    json_decref(root);
    return rc;
}

int main(int argc, char **argv)
{
    struct run *r = calloc(1, sizeof(*r));
    struct lg_shared sh;
    struct lg_worker *workers = NULL;
    struct sigaction sa;
    unsigned slots, started = 0;
    double c0 = -1, s0 = -1;
    uint64_t t0, t1, stopped;
    char *err = NULL;
    int rc = 1;

    memset(&sh, 0, sizeof(sh));
    pthread_mutex_init(&sh.first_lock, NULL);
    if (r == NULL)
        goto done;
    rc = parse_args(r, argc, argv);
    if (rc != 0)
        goto done;
    rc = 1;
    if (r->o.threads > r->o.concurrency)
        r->o.threads = r->o.concurrency;
    slots = r->o.mode == LG_MODE_IDLE ? r->o.idle_count : r->o.concurrency;
    if (r->o.mode == LG_MODE_IDLE && r->o.threads > slots)
        r->o.threads = slots;
    if (raise_nofile(slots + 64) != 0)
        goto done;

    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = SIG_IGN;
    sigaction(SIGPIPE, &sa, NULL);   /* a reset connection is an error to count, not death */
    if (OPENSSL_init_ssl(0, NULL) != 1) {
        fprintf(stderr, "loadgen: OpenSSL initialisation failed\n");
        goto done;
    }
    /* --key-decode legacy is certgate's builtin EC key decoding: the
     * server's keys decoded by OpenSSL's built-in EC method with shared
     * curve groups, no provider decoder chain per key (ec_keydecode.h).
     * loadgen's own key, loaded from a file, stays a provider key; it signs
     * in TLS only, which builtin mode allows. */
    if (!r->o.provider_keys && cg_ec_keydecode_select(CG_EC_KEYS_BUILTIN, &err) != CG_OK) {
        fprintf(stderr, "loadgen: --key-decode legacy: %s (try --key-decode provider)\n",
                err != NULL ? err : "?");
        goto done;
    }
    if (cg_key_schedule_select(r->o.openssl_key_schedule ? CG_KEY_SCHEDULE_OPENSSL
                                                         : CG_KEY_SCHEDULE_BUILTIN,
                               &err) != CG_OK) {
        fprintf(stderr, "loadgen: --key-schedule builtin: %s (try --key-schedule openssl)\n",
                err != NULL ? err : "?");
        goto done;
    }
    if (cg_key_exchange_select(r->o.openssl_key_exchange ? CG_KEY_EXCHANGE_OPENSSL
                                                         : CG_KEY_EXCHANGE_BUILTIN,
                               &err) != CG_OK) {
        fprintf(stderr, "loadgen: --key-exchange builtin: %s (try --key-exchange openssl)\n",
                err != NULL ? err : "?");
        goto done;
    }

    workers = calloc(r->o.threads, sizeof(*workers));
    if (workers == NULL)
        goto done;
    sh.o = &r->o;
    sh.t_begin = lg_now_ns();
    sh.t_measure = sh.t_begin + (uint64_t)(r->o.warmup_s * 1e9);
    sh.t_end = sh.t_measure + (uint64_t)(r->o.duration_s * 1e9);
    for (unsigned i = 0; i < r->o.threads; i++) {
        unsigned share = r->o.concurrency / r->o.threads + (i < r->o.concurrency % r->o.threads);
        struct lg_worker *w = &workers[i];

        w->sh = &sh;
        w->id = i;
        if (r->o.mode == LG_MODE_IDLE) {
            w->n_conns = slots / r->o.threads + (i < slots % r->o.threads);
            w->in_flight_max = share > 0 ? share : 1;
        } else {
            w->n_conns = share;
        }
        if (pthread_create(&w->thread, NULL, lg_worker_run, w) != 0) {
            fprintf(stderr, "loadgen: pthread_create failed\n");
            atomic_store(&lg_signalled, 1);
            break;
        }
        started++;
    }

    /* CPU use is sampled at both edges of the measurement window. */
    wait_until(&sh, sh.t_measure);
    t0 = lg_now_ns();
    c0 = cpu_self_s();
    s0 = cpu_pids_s(r);
    wait_until(&sh, sh.t_end);
    t1 = lg_now_ns();
    stopped = atomic_load(&sh.t_stopped);
    if (stopped == 0 && atomic_load(&lg_signalled) != 0) {
        uint64_t zero = 0;
        atomic_compare_exchange_strong(&sh.t_stopped, &zero, t1);   /* ends the window */
        stopped = t1;
    }
    if (stopped != 0 && stopped < t1)
        t1 = stopped;
    if (t1 > sh.t_end)
        t1 = sh.t_end;
    r->window_s = t1 > t0 ? (double)(t1 - t0) / 1e9 : 0;
    r->client_cpu_s = c0 >= 0 ? cpu_self_s() - c0 : -1;
    r->server_cpu_s = s0 >= 0 ? cpu_pids_s(r) : -1;
    if (r->server_cpu_s >= 0)
        r->server_cpu_s -= s0;

    for (unsigned i = 0; i < started; i++)
        pthread_join(workers[i].thread, NULL);
    for (unsigned i = 0; i < started; i++) {
        if (workers[i].rc != 0) {
            fprintf(stderr, "loadgen: worker %u: %s\n", i, workers[i].err);
            goto done;
        }
        lg_stats_merge(&r->total, &workers[i].stats);
    }
    if (started != r->o.threads)
        goto done;
    if (r->o.mode == LG_MODE_IDLE && atomic_load(&sh.ready_printed) == 0) {
        /* ended before every set-up settled: say so, the caller waits for it */
        printf("idle-ready %llu\n", (unsigned long long)atomic_load(&sh.held));
    }
    if (r->o.json) {
        if (report_json(r, &sh) != 0)
            goto done;
    } else {
        report_text(r, &sh);
    }
    fflush(stdout);
    rc = total_errors(&r->total) == 0 ? 0 : 3;
done:
    free(err);
    free(workers);
    free(r);
    pthread_mutex_destroy(&sh.first_lock);
    return rc;
}
