/*
 * provider.c: certgate's OpenSSL provider (provider.h): its registration,
 * its algorithm tables and capabilities, and the property query that
 * selects what of it the process chose. The algorithms themselves are in
 * key_schedule.c and key_exchange.c.
 */
#include "tls/provider.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/provider.h>

#include "core/common.h"
#include "tls/key_exchange.h"
#include "tls/key_schedule.h"
#include "tls/provider_internal.h"

/* ---- the provider ------------------------------------------------------ */

struct provider_ctx {
    const OSSL_CORE_HANDLE *handle;
    OSSL_LIB_CTX *libctx;
};

OSSL_LIB_CTX *cg_provider_libctx(void *provctx)
{
    return provctx != NULL ? ((struct provider_ctx *)provctx)->libctx : NULL;
}

static const OSSL_ALGORITHM provider_kdfs[] = {
    {OSSL_KDF_NAME_TLS1_3_KDF, CG_KEY_SCHEDULE_PROP, cg_key_schedule_kdf_functions,
     "TLS 1.3 key schedule, SHA-256 and SHA-384 (certgate)"},
    {NULL, NULL, NULL, NULL},
};
static const OSSL_ALGORITHM provider_macs[] = {
    {OSSL_MAC_NAME_HMAC, CG_KEY_SCHEDULE_PROP, cg_key_schedule_mac_functions,
     "HMAC, SHA-256 and SHA-384 (certgate)"},
    {NULL, NULL, NULL, NULL},
};
/* The names are the default provider's (the algorithm and its OID), so both
 * name the same algorithm. */
static const OSSL_ALGORITHM provider_keymgmts[] = {
    {"X25519:1.3.101.110", CG_KEY_EXCHANGE_PROP, cg_key_exchange_keymgmt_functions,
     "X25519 keys (certgate)"},
    {NULL, NULL, NULL, NULL},
};

static const OSSL_ALGORITHM *provider_query(void *provctx, int operation_id, int *no_cache)
{
    (void)provctx;
    *no_cache = 0;
    switch (operation_id) {
    case OSSL_OP_KDF:
        return provider_kdfs;
    case OSSL_OP_MAC:
        return provider_macs;
    case OSSL_OP_KEYMGMT:
        return provider_keymgmts;
    /* No KEYEXCH: the X25519 agreement stays the default provider's
     * (assembly, faster than a C ladder), which EVP_PKEY_derive_init fetches
     * whatever the query, since we offer none; EVP moves our keys to it by
     * export, once per key (bench/README.md, "X25519 key exchange"). */
    default:
        return NULL;
    }
}

/* libssl offers a group of a provider's only when the SSL_CTX's property
 * query fetches that provider's KEYMGMT for it: under
 * CG_KEY_EXCHANGE_PROPQ the X25519 group is ours (and the default
 * provider's entry is passed over), otherwise the default provider's. */
static int provider_get_capabilities(void *provctx, const char *capability, OSSL_CALLBACK *cb,
                                     void *arg)
{
    (void)provctx;
    if (strcasecmp(capability, "TLS-GROUP") == 0)
        return cb(cg_key_exchange_tls_group, arg);
    return 0;
}

static void provider_teardown(void *provctx)
{
    OPENSSL_free(provctx);
}

static const OSSL_DISPATCH provider_functions[] = {
    {OSSL_FUNC_PROVIDER_TEARDOWN, (void (*)(void))provider_teardown},
    {OSSL_FUNC_PROVIDER_QUERY_OPERATION, (void (*)(void))provider_query},
    {OSSL_FUNC_PROVIDER_GET_CAPABILITIES, (void (*)(void))provider_get_capabilities},
    {0, NULL},
};

static int provider_init(const OSSL_CORE_HANDLE *handle, const OSSL_DISPATCH *in,
                         const OSSL_DISPATCH **out, void **provctx)
{
    OSSL_FUNC_core_get_libctx_fn *get_libctx = NULL;
    struct provider_ctx *p;

    for (; in->function_id != 0; in++) {
        if (in->function_id == OSSL_FUNC_CORE_GET_LIBCTX)
            get_libctx = OSSL_FUNC_core_get_libctx(in);
    }
    if (get_libctx == NULL || (p = OPENSSL_zalloc(sizeof(*p))) == NULL)
        return 0;
    p->handle = handle;
    /* A built-in provider shares the application's libcrypto, so the core
     * context is the OSSL_LIB_CTX itself (provider-base(7)). */
    p->libctx = (OSSL_LIB_CTX *)get_libctx(handle);
    *out = provider_functions;
    *provctx = p;
    return 1;
}

/* ---- loading ----------------------------------------------------------- */

static OSSL_PROVIDER *default_prov, *our_prov;   /* loaded for the process's life */
static bool builtin_added;

int cg_provider_load(char **err)
{
    if (our_prov != NULL)
        return CG_OK;
    if (default_prov == NULL && (default_prov = OSSL_PROVIDER_load(NULL, "default")) == NULL) {
        cg_set_err(err, "tls provider: cannot load OpenSSL's default provider");
        goto fail;
    }
    if (cg_key_schedule_prepare(err) != CG_OK || cg_key_exchange_prepare(err) != CG_OK)
        goto fail;
    if (!builtin_added) {
        if (!OSSL_PROVIDER_add_builtin(NULL, CG_PROVIDER_NAME, provider_init)) {
            cg_set_err(err, "tls provider: cannot register the provider");
            goto fail;
        }
        builtin_added = true;
    }
    if ((our_prov = OSSL_PROVIDER_load(NULL, CG_PROVIDER_NAME)) == NULL) {
        cg_set_err(err, "tls provider: cannot load the provider");
        goto fail;
    }
    return CG_OK;
fail:
    ERR_clear_error();
    return CG_ERR;
}

/* ---- the property query ------------------------------------------------- */

/* [key schedule builtin][key exchange builtin] */
static const char *const propqs[2][2] = {
    {NULL, CG_KEY_EXCHANGE_PROPQ},
    {CG_KEY_SCHEDULE_PROPQ, CG_KEY_SCHEDULE_PROPQ "," CG_KEY_EXCHANGE_PROPQ},
};

const char *cg_provider_propq(void)
{
    return propqs[cg_key_schedule_current() == CG_KEY_SCHEDULE_BUILTIN]
                 [cg_key_exchange_current() == CG_KEY_EXCHANGE_BUILTIN];
}

bool cg_provider_propq_is_ours(const char *q)
{
    for (size_t i = 0; i < 2; i++) {
        for (size_t j = 0; j < 2; j++) {
            if (propqs[i][j] != NULL && strcmp(q, propqs[i][j]) == 0)
                return true;
        }
    }
    return false;
}
