/*
 * ecdsa-cost: what one ECDSA P-256 signature verification costs through
 * EVP, as libssl verifies a CertificateVerify (EVP_DigestVerifyInit with
 * SHA-256, EVP_DigestVerify over 130 bytes), three ways:
 *
 *   provider   the key as OpenSSL's provider decoder makes it
 *              (ec_key_decoding: provider): OpenSSL's verification
 *   builtin    the key decoded by the builtin EC method, no table
 *              (limits.ecdsa_key_tables: 0): OpenSSL's verification
 *   table      the same key once it has its table (ecdsa_tables.h)
 *
 * and what making one key table costs.
 *
 *   ecdsa-cost [N]   N verifications of each (default 2000)
 *
 * Prints microseconds of this thread's CPU time per call, the least of
 * five rounds (CPU time: another process's load does not count, though it
 * still disturbs caches). Under callgrind, the inclusive instructions of
 * verify() per call (callgrind_annotate --inclusive=yes) do not depend on
 * the machine's load; note that valgrind hides some CPU features from
 * OpenSSL (it then takes other code paths), so instructions and time tell
 * different stories about OpenSSL's assembly.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "cert/ec_keydecode.h"
#include "cert/ecdsa_tables.h"
#include "core/common.h"

static double thread_cpu_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static void die(const char *what)
{
    fprintf(stderr, "ecdsa-cost: %s failed\n", what);
    exit(1);
}

__attribute__((noinline)) static void verify(EVP_PKEY *key, const unsigned char *msg, size_t msg_len,
                                             const unsigned char *sig, size_t sig_len)
{
    EVP_MD_CTX *c = EVP_MD_CTX_new();

    if (c == NULL || EVP_DigestVerifyInit(c, NULL, EVP_sha256(), NULL, key) != 1 ||
        EVP_DigestVerify(c, sig, sig_len, msg, msg_len) != 1)
        die("verification");
    EVP_MD_CTX_free(c);
}

static double per_call(EVP_PKEY *key, const unsigned char *msg, size_t msg_len, const unsigned char *sig,
                       size_t sig_len, int n)
{
    double best = 0;

    for (int round = 0; round < 5; round++) {
        double t0 = thread_cpu_us(), t;

        for (int i = 0; i < n; i++)
            verify(key, msg, msg_len, sig, sig_len);
        t = (thread_cpu_us() - t0) / n;
        if (round == 0 || t < best)
            best = t;
    }
    return best;
}

static EVP_PKEY *decode(const unsigned char *der, int len)
{
    const unsigned char *p = der;
    EVP_PKEY *k = d2i_PUBKEY(NULL, &p, len);

    if (k == NULL)
        die("d2i_PUBKEY");
    return k;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    unsigned char msg[130], sig[80], *der = NULL, point[CG_P256_POINT_BYTES];
    size_t sig_len = sizeof(sig), point_len = 0;
    EVP_PKEY *priv, *provider_key, *builtin_key;
    EVP_MD_CTX *c = EVP_MD_CTX_new();
    struct cg_p256_table *t = NULL;
    char *err = NULL;
    double t_provider, t_builtin, t_table, t_build = 0;
    int der_len;

    if (n <= 0)
        n = 2000;
    memset(msg, ' ', 64);   /* a TLS 1.3 CertificateVerify's content */
    memcpy(msg + 64, "TLS 1.3, client CertificateVerify", 34);
    memset(msg + 98, 0xa5, sizeof(msg) - 98);
    /* Keys are made, and the provider's decoded, before builtin is
     * selected (ec_keydecode.h). */
    if ((priv = EVP_EC_gen("P-256")) == NULL)
        die("EVP_EC_gen");
    if (c == NULL || EVP_DigestSignInit(c, NULL, EVP_sha256(), NULL, priv) != 1 ||
        EVP_DigestSign(c, sig, &sig_len, msg, sizeof(msg)) != 1)
        die("signing");
    EVP_MD_CTX_free(c);
    if ((der_len = i2d_PUBKEY(priv, &der)) <= 0)
        die("i2d_PUBKEY");
    if (EVP_PKEY_get_octet_string_param(priv, "pub", point, sizeof(point), &point_len) != 1)
        die("the public point");
    provider_key = decode(der, der_len);
    if (cg_ec_keydecode_select(CG_EC_KEYS_BUILTIN, &err) != CG_OK)
        die(err);
    builtin_key = decode(der, der_len);

    t_provider = per_call(provider_key, msg, sizeof(msg), sig, sig_len, n);
    cg_ecdsa_tables_configure(0, 1);
    t_builtin = per_call(builtin_key, msg, sizeof(msg), sig, sig_len, n);
    cg_ecdsa_tables_configure(32, 1);   /* this thread had no cache yet: made now */
    t_table = per_call(builtin_key, msg, sizeof(msg), sig, sig_len, n);
    for (int round = 0; round < 5; round++) {
        double t0 = thread_cpu_us(), dt;

        if (cg_p256_table_new(point, &t) != CG_OK)
            die("cg_p256_table_new");
        dt = thread_cpu_us() - t0;
        cg_p256_table_free(t);
        if (round == 0 || dt < t_build)
            t_build = dt;
    }
    printf("CPU µs per verification (least of 5 rounds of %d):\n", n);
    printf("  provider key, OpenSSL    %8.1f\n", t_provider);
    printf("  builtin key, OpenSSL     %8.1f\n", t_builtin);
    printf("  builtin key, key table   %8.1f\n", t_table);
    printf("CPU µs to make one key table: %.1f (%zu bytes)\n", t_build, cg_p256_table_bytes());
    OPENSSL_free(der);
    EVP_PKEY_free(priv);
    EVP_PKEY_free(provider_key);
    EVP_PKEY_free(builtin_key);
    free(err);
    return 0;
}
