/*
 * kx-cost: what one X25519 key generation and one key agreement cost
 * through EVP, as libssl makes them, with tls_key_exchange: builtin
 * (certgate's provider generates the keys; the agreement is the default
 * provider's, which takes our keys by export, once per key) and with
 * OpenSSL's default provider alone.
 *
 *   kx-cost [N [builtin|openssl]]   N calls of each (default 2000), with
 *                                   both providers or the one named
 *
 * Prints microseconds of this thread's CPU time per call, the least of five
 * rounds (CPU time, not wall-clock: another process's load does not count,
 * though it still disturbs caches). For figures that do not depend on the
 * machine's load, run it under callgrind for one provider and read the
 * inclusive instructions of keygen() and derive() per call
 * (callgrind_annotate --inclusive=yes); both stay functions of their own
 * for that.
 *
 * Key generation: EVP_PKEY_CTX_new_from_name("X25519", query), keygen_init,
 * set_group_name, keygen (libssl's own share). Agreement: a context on the
 * private key, derive_init, set_peer (with the public-key check libssl's
 * EVP_PKEY_derive_set_peer runs), derive into 32 bytes, the same two keys
 * every time (so with builtin, after the first call, the keys' copies in
 * the default provider are reused: the agreement alone). Exchange: what
 * one side of a handshake does, with fresh keys every time: key
 * generation, the peer's share set into a new key
 * (EVP_PKEY_copy_parameters, EVP_PKEY_set1_encoded_public_key), agreement
 * (with builtin, both keys' exports included).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/provider.h>

#include "core/common.h"
#include "tls/key_exchange.h"
#include "tls/provider.h"

static double thread_cpu_us(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

__attribute__((noinline)) static EVP_PKEY *keygen(const char *propq)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "X25519", propq);
    EVP_PKEY *k = NULL;

    if (ctx == NULL || EVP_PKEY_keygen_init(ctx) != 1 ||
        EVP_PKEY_CTX_set_group_name(ctx, "X25519") != 1 || EVP_PKEY_keygen(ctx, &k) != 1) {
        fprintf(stderr, "kx-cost: key generation failed\n");
        exit(1);
    }
    EVP_PKEY_CTX_free(ctx);
    return k;
}

__attribute__((noinline)) static void derive(EVP_PKEY *own, EVP_PKEY *peer, const char *propq)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, own, propq);
    unsigned char secret[32];
    size_t len = sizeof(secret);

    if (ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 || EVP_PKEY_derive_set_peer(ctx, peer) != 1 ||
        EVP_PKEY_derive(ctx, secret, &len) != 1) {
        fprintf(stderr, "kx-cost: key agreement failed\n");
        exit(1);
    }
    EVP_PKEY_CTX_free(ctx);
}

/* One side of a handshake's exchange, as libssl makes it: a fresh key pair,
 * the peer's share decoded into a key of the same type, the agreement. No
 * key is reused, so nothing a key caches (an export to another provider)
 * is reused either. */
__attribute__((noinline)) static void exchange(const unsigned char *share, size_t share_len,
                                               const char *propq)
{
    EVP_PKEY *own = keygen(propq), *peer = EVP_PKEY_new();

    if (peer == NULL || EVP_PKEY_copy_parameters(peer, own) != 1 ||
        EVP_PKEY_set1_encoded_public_key(peer, share, share_len) != 1) {
        fprintf(stderr, "kx-cost: the peer's share was refused\n");
        exit(1);
    }
    derive(own, peer, propq);
    EVP_PKEY_free(peer);
    EVP_PKEY_free(own);
}

/* Least CPU time per call over five rounds of n calls. */
static void measure(const char *label, const char *propq, long n)
{
    double best_gen = 1e30, best_derive = 1e30, best_exchange = 1e30;
    EVP_PKEY *peer = keygen(propq), *own = keygen(propq);
    unsigned char *share = NULL;
    size_t share_len = EVP_PKEY_get1_encoded_public_key(peer, &share);

    if (share_len == 0) {
        fprintf(stderr, "kx-cost: no encoded public key\n");
        exit(1);
    }

    printf("%-8s provider %s\n", label,
           OSSL_PROVIDER_get0_name(EVP_PKEY_get0_provider(own)));
    for (int round = 0; round < 5; round++) {
        double t0 = thread_cpu_us();
        for (long i = 0; i < n; i++)
            EVP_PKEY_free(keygen(propq));
        double t1 = thread_cpu_us();
        for (long i = 0; i < n; i++)
            derive(own, peer, propq);
        double t2 = thread_cpu_us();
        for (long i = 0; i < n; i++)
            exchange(share, share_len, propq);
        double t3 = thread_cpu_us();
        if ((t1 - t0) / (double)n < best_gen)
            best_gen = (t1 - t0) / (double)n;
        if ((t2 - t1) / (double)n < best_derive)
            best_derive = (t2 - t1) / (double)n;
        if ((t3 - t2) / (double)n < best_exchange)
            best_exchange = (t3 - t2) / (double)n;
    }
    printf("%-8s keygen %.1f us/call, derive %.1f us/call, exchange (fresh keys) %.1f us/call\n",
           label, best_gen, best_derive, best_exchange);
    OPENSSL_free(share);
    EVP_PKEY_free(own);
    EVP_PKEY_free(peer);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? strtol(argv[1], NULL, 10) : 2000;
    const char *only = argc > 2 ? argv[2] : NULL;
    char *err = NULL;

    if (n <= 0 || n > 10000000 || argc > 3 ||
        (only != NULL && strcmp(only, "builtin") != 0 && strcmp(only, "openssl") != 0)) {
        fprintf(stderr, "usage: kx-cost [N [builtin|openssl]]   (N: 1..10000000, default 2000)\n");
        return 2;
    }
    if (cg_key_exchange_select(CG_KEY_EXCHANGE_BUILTIN, &err) != CG_OK) {
        fprintf(stderr, "kx-cost: %s\n", err != NULL ? err : "?");
        free(err);
        return 1;
    }
    if (only == NULL || strcmp(only, "builtin") == 0)
        measure("builtin", CG_KEY_EXCHANGE_PROPQ, n);
    if (only == NULL || strcmp(only, "openssl") == 0)
        measure("openssl", NULL, n);
    return 0;
}
