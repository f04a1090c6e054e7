/*
 * fuzz_load.c: cg_load_mem on arbitrary bytes, the path every imported file
 * and every `certgate verify` input takes. The first byte picks the options
 * (password or none, a small size limit), so the PKCS#12 and encrypted-key
 * branches are reached with and without a password.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <openssl/err.h>

#include "cert/load.h"
#include "core/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct cg_load_opts opts = {0};
    struct cg_loaded out = {0};
    char *err = NULL;

    if (size == 0)
        return 0;
    switch (data[0] & 3) {
    case 1: opts.password = "certgate"; break;
    case 2: opts.password = ""; break;
    case 3: opts.max_bytes = 4096; break;
    default: break;
    }
    if (cg_load_mem("fuzz", data + 1, size - 1, &opts, &out, &err) == CG_OK) {
        /* A success must hold something, as the contract says. */
        if (sk_X509_num(out.certs) + sk_X509_CRL_num(out.crls) == 0 && out.key == NULL)
            __builtin_trap();
    } else if (err == NULL) {
        __builtin_trap();   /* every failure explains itself */
    }
    cg_loaded_free(&out);
    free(err);
    ERR_clear_error();
    return 0;
}
