/*
 * demo_responder.c: see demo_responder.h.
 */
#include "cli/demo_responder.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "cert/load.h"
#include "cert/pki.h"
#include "core/common.h"

#define CRL_PATH "/.well-known/certgate/intermediate.crl"
#define OCSP_PATH "/.well-known/certgate/ocsp"
/* A request head and an OCSP request fit easily; more is not a client of ours. */
#define MAX_REQUEST 16384
/* The whole request must arrive within this: one slow client holds the
 * responder no longer than that. */
#define REQUEST_MS 2000
/* Revoked entries answered from; the demo CRL lists one. */
#define MAX_REVOKED 4096

struct cg_demo_responder {
    char *dir;
    int lfd;
    int stop_pipe[2];
    pthread_t thread;
    bool started;
};

/* The intermediate (certificate and key) and its newest valid CRL. */
struct material {
    X509 *issuer;
    EVP_PKEY *key;
    X509_CRL *crl;
};

static void material_free(struct material *m)
{
    X509_free(m->issuer);
    EVP_PKEY_free(m->key);
    X509_CRL_free(m->crl);
}

static int load_one(const char *path, struct cg_loaded *l)
{
    memset(l, 0, sizeof(*l));
    return cg_load_file(path, NULL, l, NULL);
}

static long crl_number(X509_CRL *crl)
{
    ASN1_INTEGER *n = X509_CRL_get_ext_d2i(crl, NID_crl_number, NULL, NULL);
    long v = n != NULL ? ASN1_INTEGER_get(n) : 0;

    ASN1_INTEGER_free(n);
    return v;
}

/* Read again on every request: cheap for a demo, and a CRL imported since
 * is used at once. */
static int material_load(const char *dir, struct material *m)
{
    char path[4096];
    struct cg_loaded l;
    DIR *d = NULL;
    struct dirent *de;
    long best = -1;

    memset(m, 0, sizeof(*m));
    snprintf(path, sizeof(path), "%s/ca/intermediate.pem", dir);
    if (load_one(path, &l) != CG_OK)
        return CG_ERR;
    if (sk_X509_num(l.certs) > 0) {
        m->issuer = sk_X509_value(l.certs, 0);
        X509_up_ref(m->issuer);
    }
    cg_loaded_free(&l);
    snprintf(path, sizeof(path), "%s/ca/intermediate.key", dir);
    if (load_one(path, &l) != CG_OK)
        goto fail;
    m->key = l.key;
    l.key = NULL;
    cg_loaded_free(&l);
    if (m->issuer == NULL || m->key == NULL)
        goto fail;
    snprintf(path, sizeof(path), "%s/stores/crl", dir);
    d = opendir(path);
    while (d != NULL && (de = readdir(d)) != NULL) {
        char file[4352];
        if (de->d_name[0] == '.')
            continue;
        snprintf(file, sizeof(file), "%s/%s", path, de->d_name);
        if (load_one(file, &l) != CG_OK)
            continue;
        for (int i = 0; i < sk_X509_CRL_num(l.crls); i++) {
            X509_CRL *c = sk_X509_CRL_value(l.crls, i);
            long n = crl_number(c);
            if (X509_NAME_cmp(X509_CRL_get_issuer(c), X509_get_subject_name(m->issuer)) != 0 ||
                X509_CRL_verify(c, m->key) != 1 || n <= best)
                continue;
            X509_CRL_free(m->crl);
            X509_CRL_up_ref(c);
            m->crl = c;
            best = n;
        }
        cg_loaded_free(&l);
    }
    if (d != NULL)
        closedir(d);
    if (m->crl == NULL)
        goto fail;
    return CG_OK;
fail:
    material_free(m);
    memset(m, 0, sizeof(*m));
    return CG_ERR;
}

static void send_all(int fd, const void *p, size_t len)
{
    const char *b = p;

    while (len > 0) {
        ssize_t n = send(fd, b, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return;
        b += n;
        len -= (size_t)n;
    }
}

static void answer(int fd, int status, const char *ctype, const void *body, size_t len)
{
    char head[256];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
                     status, status == 200 ? "OK" : status == 404 ? "Not Found"
                                            : status == 405 ? "Method Not Allowed"
                                                            : "Bad Request",
                     ctype, len);

    send_all(fd, head, (size_t)n);
    send_all(fd, body, len);
}

/* The OCSP answer for a DER request, from the CRL's entries. */
static void answer_ocsp(int fd, const char *dir, const unsigned char *req, size_t req_len)
{
    struct material m;
    struct cg_pki_revoked *rev = NULL;
    STACK_OF(X509_REVOKED) *list;
    unsigned char *der = NULL;
    size_t der_len = 0, n = 0;
    time_t tu = 0, nu = 0;

    if (material_load(dir, &m) != CG_OK) {
        answer(fd, 404, "text/plain", "no demo CA\n", 11);
        return;
    }
    list = X509_CRL_get_REVOKED(m.crl);
    rev = calloc((size_t)(sk_X509_REVOKED_num(list) > 0 ? sk_X509_REVOKED_num(list) : 1),
                 sizeof(*rev));
    for (int i = 0; rev != NULL && i < sk_X509_REVOKED_num(list) && n < MAX_REVOKED; i++) {
        X509_REVOKED *r = sk_X509_REVOKED_value(list, i);
        ASN1_ENUMERATED *reason = X509_REVOKED_get_ext_d2i(r, NID_crl_reason, NULL, NULL);
        uint64_t serial;
        if (ASN1_INTEGER_get_uint64(&serial, X509_REVOKED_get0_serialNumber(r)) != 1) {
            ASN1_ENUMERATED_free(reason);
            continue;   /* a serial past 64 bits: not one the demo issues */
        }
        rev[n].serial = serial;
        {
            struct tm tm;
            if (ASN1_TIME_to_tm(X509_REVOKED_get0_revocationDate(r), &tm) == 1)
                rev[n].revoked_at = timegm(&tm);
        }
        rev[n].reason = reason != NULL ? (int)ASN1_ENUMERATED_get(reason) : -1;
        ASN1_ENUMERATED_free(reason);
        n++;
    }
    {
        /* The answer is as current as the CRL it comes from. */
        struct tm tm;
        if (ASN1_TIME_to_tm(X509_CRL_get0_lastUpdate(m.crl), &tm) == 1)
            tu = timegm(&tm);
        if (X509_CRL_get0_nextUpdate(m.crl) != NULL &&
            ASN1_TIME_to_tm(X509_CRL_get0_nextUpdate(m.crl), &tm) == 1)
            nu = timegm(&tm);
    }
    if (rev != NULL && cg_pki_ocsp_respond(req, req_len, m.issuer, m.issuer, m.key, rev, n, tu,
                                           nu, &der, &der_len, NULL) == CG_OK)
        answer(fd, 200, "application/ocsp-response", der, der_len);
    else
        answer(fd, 400, "text/plain", "cannot answer\n", 14);
    OPENSSL_free(der);
    free(rev);
    material_free(&m);
}

static void answer_crl(int fd, const char *dir)
{
    struct material m;
    unsigned char *der = NULL;
    int len;

    if (material_load(dir, &m) != CG_OK) {
        answer(fd, 404, "text/plain", "no CRL\n", 7);
        return;
    }
    len = i2d_X509_CRL(m.crl, &der);
    if (len > 0)
        answer(fd, 200, "application/pkix-crl", der, (size_t)len);
    OPENSSL_free(der);
    material_free(&m);
}

/* %XX-decodes then base64-decodes the GET form of an OCSP request. */
static size_t decode_get(const char *in, size_t in_len, unsigned char *out, size_t cap)
{
    char b64[MAX_REQUEST];
    size_t n = 0, pad = 0;
    int len;

    for (size_t i = 0; i < in_len && n < sizeof(b64) - 1; i++) {
        if (in[i] == '%' && i + 2 < in_len) {
            char hex[3] = {in[i + 1], in[i + 2], 0};
            b64[n++] = (char)strtol(hex, NULL, 16);
            i += 2;
        } else {
            b64[n++] = in[i];
        }
    }
    b64[n] = '\0';
    if (n == 0 || n % 4 != 0 || n / 4 * 3 > cap)
        return 0;
    while (pad < 2 && b64[n - 1 - pad] == '=')
        pad++;
    len = EVP_DecodeBlock(out, (const unsigned char *)b64, (int)n);
    return len > (int)pad ? (size_t)len - pad : 0;
}

static void serve_one(struct cg_demo_responder *r, int fd)
{
    char buf[MAX_REQUEST + 1];
    size_t len = 0, head_len = 0, body_len = 0;
    struct timespec t0, t;
    char method[8], target[MAX_REQUEST];

    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        long left;
        ssize_t n;
        char *end;

        clock_gettime(CLOCK_MONOTONIC, &t);
        left = REQUEST_MS - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
        if (left <= 0 || poll(&p, 1, (int)left) <= 0)
            return;
        n = recv(fd, buf + len, MAX_REQUEST - len, 0);
        if (n <= 0)
            return;
        len += (size_t)n;
        buf[len] = '\0';
        if (head_len == 0 && (end = strstr(buf, "\r\n\r\n")) != NULL) {
            const char *cl = strcasestr(buf, "\r\ncontent-length:");
            head_len = (size_t)(end - buf) + 4;
            body_len = cl != NULL && cl < end ? strtoul(cl + 17, NULL, 10) : 0;
            if (body_len > MAX_REQUEST - head_len) {
                answer(fd, 400, "text/plain", "too large\n", 10);
                return;
            }
        }
        if (head_len != 0 && len >= head_len + body_len)
            break;
        if (len == MAX_REQUEST) {
            answer(fd, 400, "text/plain", "too large\n", 10);
            return;
        }
    }
    if (sscanf(buf, "%7s %16383s", method, target) != 2) {
        answer(fd, 400, "text/plain", "bad request\n", 12);
        return;
    }
    if (strcmp(method, "GET") == 0 && strcmp(target, CRL_PATH) == 0) {
        answer_crl(fd, r->dir);
    } else if (strcmp(method, "POST") == 0 && strcmp(target, OCSP_PATH) == 0) {
        answer_ocsp(fd, r->dir, (const unsigned char *)buf + head_len, body_len);
    } else if (strcmp(method, "GET") == 0 &&
               strncmp(target, OCSP_PATH "/", sizeof(OCSP_PATH)) == 0) {
        unsigned char req[MAX_REQUEST];
        const char *enc = target + sizeof(OCSP_PATH);
        size_t n = decode_get(enc, strlen(enc), req, sizeof(req));
        answer_ocsp(fd, r->dir, req, n);
    } else if (strcmp(target, CRL_PATH) == 0 || strncmp(target, OCSP_PATH, sizeof(OCSP_PATH) - 1) == 0) {
        answer(fd, 405, "text/plain", "method not allowed\n", 19);
    } else {
        answer(fd, 404, "text/plain", "not found\n", 10);
    }
}

static void *responder_main(void *arg)
{
    struct cg_demo_responder *r = arg;

    for (;;) {
        struct pollfd p[2] = {{.fd = r->lfd, .events = POLLIN},
                              {.fd = r->stop_pipe[0], .events = POLLIN}};
        int fd;

        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents != 0)
            break;
        fd = accept4(r->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        serve_one(r, fd);
        close(fd);
    }
    return NULL;
}

int cg_demo_responder_start(const char *demo_dir, unsigned port, struct cg_demo_responder **out,
                            char **err)
{
    struct cg_demo_responder *r = calloc(1, sizeof(*r));
    struct sockaddr_in sa;
    int one = 1;

    *out = NULL;
    if (r == NULL)
        return cg_set_err(err, "out of memory");
    r->lfd = r->stop_pipe[0] = r->stop_pipe[1] = -1;
    r->dir = strdup(demo_dir);
    if (r->dir == NULL) {
        cg_set_err(err, "out of memory");
        goto fail;
    }
    r->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (r->lfd < 0 || setsockopt(r->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(r->lfd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(r->lfd, 64) != 0) {
        cg_set_err(err, "127.0.0.1:%u: %s", port, strerror(errno));
        goto fail;
    }
    if (pipe2(r->stop_pipe, O_CLOEXEC) != 0) {
        cg_set_err(err, "pipe: %s", strerror(errno));
        goto fail;
    }
    if (pthread_create(&r->thread, NULL, responder_main, r) != 0) {
        cg_set_err(err, "cannot start a thread");
        goto fail;
    }
    r->started = true;
    *out = r;
    return CG_OK;
fail:
    cg_demo_responder_stop(r);
    return CG_ERR;
}

void cg_demo_responder_stop(struct cg_demo_responder *r)
{
    if (r == NULL)
        return;
    if (r->started) {
        ssize_t n;
        do
            n = write(r->stop_pipe[1], "x", 1);
        while (n < 0 && errno == EINTR);
        pthread_join(r->thread, NULL);
    }
    if (r->lfd >= 0)
        close(r->lfd);
    if (r->stop_pipe[0] >= 0)
        close(r->stop_pipe[0]);
    if (r->stop_pipe[1] >= 0)
        close(r->stop_pipe[1]);
    free(r->dir);
    free(r);
}
