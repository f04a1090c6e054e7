/*
 * demo.c: the built-in demo of `certgate serve` (see demo.h).
 */
#include "cli/demo.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cert/pki.h"
#include "cli/demo_responder.h"
#include "conf/config.h"
#include "core/common.h"
#include "server/server.h"

/* ---- the demo's files ------------------------------------------------- */

static const char secure_page[] =
    "<!DOCTYPE html>\n"
    "<html lang=\"en\"><head><meta charset=\"utf-8\"><title>You are in</title></head>\n"
    "<body>\n"
    "<h1>You are in</h1>\n"
    "<p>you are in: this page is under <code>/secure</code>, which requires a valid client\n"
    "certificate, and certgate accepted yours. <a href=\"/\">What it saw</a>.</p>\n"
    "</body></html>\n";

/*
 * The configuration the demo serves, written where the admin can read and
 * copy it. Relative paths are relative to the file's own directory. The
 * ports are the only variable part: %1$u https, %2$u http; the [::1]
 * bindings are appended when the host has IPv6.
 */
static const char config_head[] =
    "# The certgate demo: written by `certgate serve` run without a configuration,\n"
    "# and served from this directory. Copy it as the start of your own site;\n"
    "# docs/config.md lists every key. Relative paths are relative to this file.\n"
    "workers: 2\n"
    "stores: stores                    # root/, intermediate/, disallowed/, crl/ of the demo PKI\n"
    "errors: detailed-local            # loopback clients see the certification path and the fix\n"
    "revocation: { mode: crl }         # the CRLs in stores/crl/\n"
    "access_log: { path: access.log, format: w3c }   # IIS field names; stdout stays for you\n"
    "ec_key_decoding: provider         # the demo signs OCSP answers while it runs; a site\n"
    "                                  # that does not keeps the faster default, builtin\n"
    "sites:\n"
    "  - name: demo\n"
    "    root: www\n"
    "    client_certificates: accept    # ask for a certificate, serve whatever it is\n"
    "    locations:\n"
    "      - { path: /, handler: certificate-info }      # who am I: the verdict\n"
    "      - { path: /secure, ssl: require, client_certificates: require }\n"
    "    bindings:\n";

static const char *const demo_listen_addrs[] = {"127.0.0.1", "[::1]"};

static int write_config(const char *path, bool v6, unsigned https_port, unsigned http_port,
                        char **err)
{
    char text[sizeof(config_head) + 1024];
    size_t len = 0;
    int n;

    n = snprintf(text, sizeof(text), "%s", config_head);
    if (n < 0 || (size_t)n >= sizeof(text))
        return cg_set_err(err, "demo configuration too long");
    len = (size_t)n;
    for (size_t i = 0; i < (v6 ? 2u : 1u); i++) {
        n = snprintf(text + len, sizeof(text) - len,
                     "      - { listen: \"%s:%u\", tls: true,\n"
                     "          certificate: server/server.pem, key: server/server.key }\n"
                     "      - { listen: \"%s:%u\" }\n",
                     demo_listen_addrs[i], https_port, demo_listen_addrs[i], http_port);
        if (n < 0 || (size_t)n >= sizeof(text) - len)
            return cg_set_err(err, "demo configuration too long");
        len += (size_t)n;
    }
    return cg_pki_write_atomic(path, text, len, 0644, err);
}

static int make_dir(const char *path, char **err)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return cg_set_err(err, "cannot create %s: %s", path, strerror(errno));
    return CG_OK;
}

/* Writes the document root unless present: an admin's edits survive. */
static int write_www(const char *dir, char **err)
{
    char path[PATH_MAX];

    if (snprintf(path, sizeof(path), "%s/www", dir) >= (int)sizeof(path) ||
        make_dir(path, err) != CG_OK)
        return cg_set_err(err, "cannot create %s/www", dir);
    if (snprintf(path, sizeof(path), "%s/www/secure", dir) >= (int)sizeof(path) ||
        make_dir(path, err) != CG_OK)
        return cg_set_err(err, "cannot create %s/www/secure", dir);
    if (snprintf(path, sizeof(path), "%s/www/secure/index.html", dir) >= (int)sizeof(path))
        return cg_set_err(err, "state directory path too long");
    if (access(path, F_OK) == 0)
        return CG_OK;
    return cg_pki_write_atomic(path, secure_page, sizeof(secure_page) - 1, 0644, err);
}

/* ---- ports -------------------------------------------------------------- */

/*
 * Binds a probe socket to the loopback address of `family` on `port` (0: any)
 * and closes it; *bound gets the port. Without SO_REUSEPORT on purpose: a
 * certgate already listening there with it would otherwise be joined
 * silently instead of reported. Returns 0 or the errno of the failure.
 */
static int probe_port(int family, unsigned port, unsigned *bound)
{
    struct sockaddr_storage ss;
    socklen_t len;
    int fd, one = 1, e = 0;

    memset(&ss, 0, sizeof(ss));
    if (family == AF_INET) {
        struct sockaddr_in *s = (struct sockaddr_in *)&ss;
        s->sin_family = AF_INET;
        s->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        s->sin_port = htons((uint16_t)port);
        len = sizeof(*s);
    } else {
        struct sockaddr_in6 *s = (struct sockaddr_in6 *)&ss;
        s->sin6_family = AF_INET6;
        s->sin6_addr = in6addr_loopback;
        s->sin6_port = htons((uint16_t)port);
        len = sizeof(*s);
    }
    fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return errno;
    /* as the server does: a previous run's TIME_WAIT does not count as taken */
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (family == AF_INET6)
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        e = errno;
    } else if (bound != NULL) {
        len = sizeof(ss);
        if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
            e = errno;
        else
            *bound = ntohs(family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                             : ((struct sockaddr_in6 *)&ss)->sin6_port);
    }
    close(fd);
    return e;
}

static int port_taken(const char *what, const char *opt, unsigned port, int e, char **err)
{
    if (e == EACCES)
        return cg_set_err(err,
                          "cannot listen on port %u (%s): ports below 1024 need privileges; "
                          "choose another with %s PORT (0 picks a free one)",
                          port, what, opt);
    return cg_set_err(err,
                      "port %u (%s) is taken: %s (another program, or a certgate still "
                      "running, listens there).\nChoose other ports: certgate serve "
                      "--demo-https-port 9443 --demo-http-port 9080 (0 picks free ones)",
                      port, what, strerror(e));
}

/*
 * Settles a port: a given one must be free on every loopback address the
 * demo listens on; 0 becomes a port free on all of them (and not `avoid`),
 * so that https://localhost:PORT reaches the same server over IPv4 and IPv6.
 * The port is only probed: another program could take it before the server
 * binds, and then the server's own error says so.
 */
static int settle_port(const char *what, const char *opt, long want, bool v6, unsigned avoid,
                       unsigned *out, char **err)
{
    unsigned p = 0;
    int e;

    if (want != 0) {
        if ((e = probe_port(AF_INET, (unsigned)want, NULL)) != 0 ||
            (v6 && (e = probe_port(AF_INET6, (unsigned)want, NULL)) != 0))
            return port_taken(what, opt, (unsigned)want, e, err);
        *out = (unsigned)want;
        return CG_OK;
    }
    for (int tries = 0; tries < 64; tries++) {
        if ((e = probe_port(AF_INET, 0, &p)) != 0)
            return cg_set_err(err, "no free port on 127.0.0.1: %s", strerror(e));
        if (p != avoid && (!v6 || probe_port(AF_INET6, p, NULL) == 0)) {
            *out = p;
            return CG_OK;
        }
    }
    return cg_set_err(err, "no port free on both 127.0.0.1 and [::1] (%s)", what);
}

/* ---- what the demo prints ----------------------------------------------- */

struct demo_case {
    const char *name;          /* clients/<name>.pem; NULL: no certificate */
    const char *what;          /* one line about it */
    const char *expect;        /* "<code> <slug or OK>", exactly what the test compares */
};

static const struct demo_case demo_cases[] = {
    {"valid", "issued by the demo intermediate, for client authentication", "200 OK"},
    {"expired", "its validity period is over", "403.17 expired"},
    {"not-yet-valid", "its validity period has not begun", "403.17 not-yet-valid"},
    {"revoked", "listed in the demo intermediate's CRL (stores/crl/)", "403.13 revoked"},
    {"untrusted", "issued under a root that is not in stores/root/", "403.16 untrusted-root"},
    {"wrong-usage", "lacks the clientAuth extended key usage", "403.16 wrong-usage"},
    {"incomplete-chain", "its issuer is neither sent by the client nor in the stores",
     "403.16 incomplete-chain"},
    {NULL, "no client certificate at all", "403.7 cert-required"},
};

/* Prints s for a POSIX shell: bare when it is plain, single-quoted otherwise. */
static void shq(FILE *f, const char *s)
{
    bool plain = *s != '\0';

    for (const char *p = s; *p != '\0' && plain; p++)
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
                       "_./:@%+=,-", *p) != NULL;
    if (plain) {
        fputs(s, f);
        return;
    }
    fputc('\'', f);
    for (; *s != '\0'; s++) {
        if (*s == '\'')
            fputs("'\\''", f);
        else
            fputc(*s, f);
    }
    fputc('\'', f);
}

/* "curl --cacert DIR/ca/root.pem [--cert ... --key ...]" */
static void curl_tls(FILE *f, const char *dir, const char *client)
{
    char path[PATH_MAX + 32];

    fputs("curl --cacert ", f);
    snprintf(path, sizeof(path), "%s/ca/root.pem", dir);
    shq(f, path);
    if (client != NULL) {
        fputs(" --cert ", f);
        snprintf(path, sizeof(path), "%s/clients/%s.pem", dir, client);
        shq(f, path);
        fputs(" --key ", f);
        snprintf(path, sizeof(path), "%s/clients/%s.key", dir, client);
        shq(f, path);
    }
}

struct demo_run {
    char dir[PATH_MAX];            /* absolute state directory */
    char config[PATH_MAX + 16];
    bool v6;
    unsigned https_port, http_port;
    cg_pki_demo_result_t pki;
    const char *ready_file;        /* the caller's, to write after printing */
    int pipe_rd, pipe_wr;
};

static void print_demo(const struct demo_run *d, unsigned https, unsigned http)
{
    const char *host = d->v6 ? "localhost" : "127.0.0.1";
    FILE *f = stdout;

    fprintf(f, "\ncertgate demo: https://%s:%u/ and http://%s:%u/\n", host, https, host, http);
    fprintf(f, "  state directory  %s (%s)\n", d->dir,
            d->pki == CG_PKI_DEMO_CREATED ? "demo PKI created"
            : d->pki == CG_PKI_DEMO_CRLS_REFRESHED ? "reused; its CRLs were reissued"
                                                   : "reused; nothing regenerated");
    fprintf(f, "  configuration    %s (read it, copy it for your own site)\n", d->config);
    fprintf(f, "  access log       %s/access.log (W3C, IIS field names: sc-status sc-substatus "
               "x-reason ...)\n", d->dir);
    fprintf(f, "  /        accepts a client certificate and shows what certgate made of it\n"
               "  /secure  requires a valid one (and https)\n\n");
    fprintf(f, "Try each demo client certificate on /secure; the expected answer follows "
               "each command.\n\n");
    for (size_t i = 0; i < CG_ARRAY_LEN(demo_cases); i++) {
        const struct demo_case *dc = &demo_cases[i];
        fprintf(f, "  %s: %s\n    ", dc->name != NULL ? dc->name : "none", dc->what);
        curl_tls(f, d->dir, dc->name);
        fprintf(f, " https://%s:%u/secure/\n    -> %s\n", host, https, dc->expect);
    }
    fprintf(f, "  plain http: /secure says `ssl: require`\n    curl http://%s:%u/secure/\n"
               "    -> 403.4 ssl-required\n\n", host, http);
    fprintf(f, "Who am I: the verdict on your certificate, as HTML or as JSON\n    ");
    curl_tls(f, d->dir, "valid");
    fprintf(f, " https://%s:%u/\n    ", host, https);
    curl_tls(f, d->dir, "valid");
    fprintf(f, " -H 'Accept: application/json' https://%s:%u/\n\n", host, https);
    fprintf(f, "In a browser: import %s/clients/valid.p12 (password \"%s\"; any other\n"
               "clients/<case>.p12 shows its own answer) into your personal certificates:\n"
               "  Firefox      Settings > Privacy & Security > Certificates > View Certificates >\n"
               "               Your Certificates > Import\n"
               "  Chrome/Edge  Settings > Privacy and security > Security > Manage certificates >\n"
               "               Import (on Windows: the Personal store)\n"
               "  macOS        double-click the .p12 (login keychain)\n"
               "then open https://localhost:%u/ and pick the certificate when asked. The server\n"
               "certificate is issued by the demo root %s/ca/root.pem: trust it as an\n"
               "authority, or accept the browser's warning.\n\n"
               "Stop with Ctrl-C. Options: certgate serve --help\n",
            d->dir, CG_PKI_DEMO_P12_PASSWORD, https, d->dir);
    fflush(f);
}

/*
 * The server reports its bound addresses only through its ready file, so
 * the demo hands it a pipe (as /proc/self/fd/N) and reads it here: lines
 * "<listen> <ip:port> <scheme>", then "ready <pid>". The commands are
 * printed with those ports, then the caller's ready file gets the same
 * lines, so whoever waits on it finds stdout complete.
 */
static void *ready_reader(void *arg)
{
    struct demo_run *d = arg;
    char buf[4096], line[512];
    size_t len = 0;
    unsigned https = 0, http = 0;
    bool ready = false;
    FILE *rf;

    while (!ready && len < sizeof(buf) - 1) {
        ssize_t n = read(d->pipe_rd, buf + len, sizeof(buf) - 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return NULL;   /* the server did not start: it says why */
        len += (size_t)n;
        buf[len] = '\0';
        ready = strstr(buf, "\nready ") != NULL || strncmp(buf, "ready ", 6) == 0;
        if (ready && buf[len - 1] != '\n')
            ready = false;   /* the ready line is not complete yet */
    }
    if (!ready)
        return NULL;
    for (const char *p = buf; *p != '\0';) {
        const char *nl = strchr(p, '\n');
        size_t n = nl != NULL ? (size_t)(nl - p) : strlen(p);
        char listen[128], addr[128], scheme[16];
        if (n < sizeof(line)) {
            memcpy(line, p, n);
            line[n] = '\0';
            if (sscanf(line, "%127s %127s %15s", listen, addr, scheme) == 3 &&
                strncmp(addr, "127.0.0.1:", 10) == 0) {
                unsigned port = (unsigned)strtoul(addr + 10, NULL, 10);
                if (strcmp(scheme, "https") == 0)
                    https = port;
                else if (strcmp(scheme, "http") == 0)
                    http = port;
            }
        }
        p += n + (nl != NULL ? 1 : 0);
    }
    print_demo(d, https != 0 ? https : d->https_port, http != 0 ? http : d->http_port);
    if (d->ready_file != NULL) {
        rf = fopen(d->ready_file, "w");
        if (rf == NULL || fputs(buf, rf) == EOF || fclose(rf) != 0)
            fprintf(stderr, "certgate serve: ready file %s: %s\n", d->ready_file,
                    strerror(errno));
    }
    return NULL;
}

/* ---- the whole -------------------------------------------------------- */

static int prepare(const struct cg_demo_opts *o, struct demo_run *d, char **err)
{
    const char *dir = o->state_dir != NULL ? o->state_dir : CG_DEMO_DEFAULT_STATE_DIR;
    char *abs = NULL;
    int e;

    if (o->https_port < 0 || o->https_port > 65535 || o->http_port < 0 ||
        o->http_port > 65535)
        return cg_set_err(err, "a demo port is a number from 0 to 65535");
    if (o->https_port != 0 && o->https_port == o->http_port)
        return cg_set_err(err, "the https and http ports must differ (%ld)", o->https_port);
    if (make_dir(dir, err) != CG_OK)
        return CG_ERR;
    abs = realpath(dir, NULL);
    if (abs == NULL)
        return cg_set_err(err, "%s: %s", dir, strerror(errno));
    if (strlen(abs) >= sizeof(d->dir) - 64) {
        free(abs);
        return cg_set_err(err, "%s: path too long", dir);
    }
    snprintf(d->dir, sizeof(d->dir), "%s", abs);
    free(abs);
    snprintf(d->config, sizeof(d->config), "%s/certgate.yaml", d->dir);
    if (cg_pki_demo_ex(d->dir, false, &d->pki, err) != CG_OK)
        return CG_ERR;
    if (write_www(d->dir, err) != CG_OK)
        return CG_ERR;
    e = probe_port(AF_INET6, 0, NULL);
    d->v6 = e == 0;
    if (settle_port("https", "--demo-https-port", o->https_port, d->v6, 0, &d->https_port,
                    err) != CG_OK ||
        settle_port("http", "--demo-http-port", o->http_port, d->v6, d->https_port,
                    &d->http_port, err) != CG_OK)
        return CG_ERR;
    return write_config(d->config, d->v6, d->https_port, d->http_port, err);
}

int cg_demo_serve(const struct cg_demo_opts *o)
{
    struct demo_run d;
    struct cg_conf *conf = NULL;
    struct cg_server_opts so;
    char ready_path[64];
    char *err = NULL;
    int fds[2] = {-1, -1}, status = 2;
    pthread_t reader;
    bool reader_started = false;
    sigset_t all, old;
    struct cg_demo_responder *responder = NULL;

    memset(&d, 0, sizeof(d));
    d.pipe_rd = d.pipe_wr = -1;
    d.ready_file = o->ready_file;
    if (prepare(o, &d, &err) != CG_OK) {
        fprintf(stderr, "certgate serve (demo): %s\n", err != NULL ? err : "failed");
        goto done;
    }
    if (cg_conf_load(d.config, &conf, &err) != CG_OK) {
        fprintf(stderr, "certgate serve (demo): %s\n", err != NULL ? err : "bad configuration");
        goto done;
    }
    for (size_t i = 0; i < conf->n_warnings; i++)
        fprintf(stderr, "certgate serve: warning: %s\n", conf->warnings[i]);
    if (pipe2(fds, O_CLOEXEC) != 0) {
        fprintf(stderr, "certgate serve (demo): pipe: %s\n", strerror(errno));
        goto done;
    }
    d.pipe_rd = fds[0];
    d.pipe_wr = fds[1];
    snprintf(ready_path, sizeof(ready_path), "/proc/self/fd/%d", d.pipe_wr);
    /* The server reads its signals on the control thread; this thread must
     * never be the one a SIGTERM is delivered to. */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    reader_started = pthread_create(&reader, NULL, ready_reader, &d) == 0;
    /* The CRL and OCSP URLs the demo's client certificates name: published
     * here while the demo runs. Without them (the port taken) the demo
     * still judges revocation from its local CRLs. */
    if (cg_demo_responder_start(d.dir, CG_PKI_DEMO_REVOCATION_PORT, &responder, &err) != CG_OK) {
        fprintf(stderr, "certgate serve (demo): warning: revocation publisher not started (%s): "
                        "revocation is checked against the local CRLs only\n",
                err != NULL ? err : "?");
        free(err);
        err = NULL;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!reader_started) {
        fprintf(stderr, "certgate serve (demo): cannot start a thread\n");
        goto done;
    }
    memset(&so, 0, sizeof(so));
    so.config_path = d.config;
    so.ready_file = ready_path;
    status = 0;
    if (cg_server_run(conf, &so, &err) != CG_OK) {
        fprintf(stderr, "certgate serve (demo): %s\n", err != NULL ? err : "failed");
        if (err != NULL && strstr(err, "in use") != NULL)
            fprintf(stderr, "Choose other ports: certgate serve --demo-https-port 9443 "
                            "--demo-http-port 9080 (0 picks free ones)\n");
        status = 1;
    }
done:
    cg_demo_responder_stop(responder);
    /* the reader stops at the ready line, or at EOF once this end is closed */
    if (d.pipe_wr >= 0)
        close(d.pipe_wr);
    if (reader_started)
        pthread_join(reader, NULL);
    if (d.pipe_rd >= 0)
        close(d.pipe_rd);
    free(err);
    cg_conf_unref(conf);
    return status;
}
