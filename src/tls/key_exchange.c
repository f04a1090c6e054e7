/*
 * key_exchange.c: X25519 (RFC 7748) keys for libssl, as a KEYMGMT "X25519"
 * of certgate's provider (provider.c), generated with x25519.h's
 * fixed-base multiplication (key_exchange.h says why). The agreement is
 * not served here: it stays the default provider's.
 *
 * What libssl 3.0 does with the X25519 group, under the SSL_CTX's query:
 *  - its own share: EVP_PKEY_CTX_new_from_name("X25519", query), which
 *    fetches this KEYMGMT; keygen_init, set_group_name, keygen (gen
 *    below); then EVP_PKEY_get1_encoded_public_key. A server (and a TLS 1.2
 *    client) generates its share from the peer's key as a template instead
 *    (EVP_PKEY_CTX_new_from_pkey, keygen).
 *  - the peer's share: a key of parameters only (paramgen, or EVP_PKEY_new
 *    and EVP_PKEY_copy_parameters, which dups its own key's parameters:
 *    an empty key of ours), then EVP_PKEY_set1_encoded_public_key, which
 *    decodes the share into that key (key_set_params).
 *  - the agreement: EVP_PKEY_CTX_new_from_pkey on its own key,
 *    derive_init, which fetches the KEYEXCH "X25519": we offer none, so it
 *    is the default provider's (its assembly; bench/README.md has the
 *    figures). EVP then exports our key (key_export) and imports it into
 *    the default provider's KEYMGMT, once per key (the copy is cached in
 *    the EVP_PKEY). EVP_PKEY_derive_set_peer first runs
 *    EVP_PKEY_public_check on the peer's key under the same query, so
 *    through this KEYMGMT's validate, then moves the peer's key across the
 *    same way. Our export gives both the raw public and the raw private
 *    key, and OpenSSL 3.0's import of X25519 keys (ecx_import,
 *    ossl_ecx_key_fromdata) takes a public key it is given as it is and
 *    computes one from the private key only when none is given: the
 *    default provider never recomputes our public keys. Its derive refuses
 *    an all-zero shared secret (a peer key of small order: RFC 8446,
 *    section 7.4.2) and libssl ends the handshake with an alert.
 * So export and import are on every handshake's path, not a convenience.
 *
 * Keys behave as the default provider's X25519 keys do, function for
 * function: the raw public and private keys import and export (so a key
 * moves to another provider, prints, converts with EVP_PKEY_todata and
 * compares with EVP_PKEY_eq), 253 bits, 128 security bits, 32 bytes; a new
 * encoded public key replaces the key (its private key goes); X25519 has no
 * domain parameters, so a "parameters" key is an empty one. What X25519 is
 * not (another group name, a key of another length) is refused. One
 * difference: EVP_PKEY_print_params fails on our keys (there is nothing to
 * print; OpenSSL's text encoder takes a key of another provider only with
 * its key material).
 *
 * Private keys live in OpenSSL's secure heap (an ordinary allocation unless
 * the process set one up) and are cleansed when freed.
 */
#include "tls/key_exchange.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/prov_ssl.h>
#include <openssl/proverr.h>
#include <openssl/rand.h>

#include "core/common.h"
#include "tls/provider.h"
#include "tls/provider_internal.h"
#include "tls/x25519.h"

#define KEY_BYTES     CG_X25519_KEY_BYTES
#define X25519_BITS   253   /* as the default provider reports them */
#define X25519_SECBITS 128

/* ---- keys ---------------------------------------------------------------- */

struct x25519_key {
    OSSL_LIB_CTX *libctx;      /* for generating private keys */
    bool has_public;
    uint8_t public_key[KEY_BYTES];
    uint8_t *private_key;      /* KEY_BYTES in the secure heap; NULL: none */
};

static void *key_new(void *provctx)
{
    struct x25519_key *k = OPENSSL_zalloc(sizeof(*k));

    if (k != NULL)
        k->libctx = cg_provider_libctx(provctx);
    return k;
}

static void key_drop_private(struct x25519_key *k)
{
    OPENSSL_secure_clear_free(k->private_key, KEY_BYTES);
    k->private_key = NULL;
}

static void key_free(void *vkey)
{
    struct x25519_key *k = vkey;

    if (k == NULL)
        return;
    key_drop_private(k);
    OPENSSL_free(k);
}

/* Room for a private key; false when out of memory. */
static bool key_private_room(struct x25519_key *k)
{
    if (k->private_key == NULL)
        k->private_key = OPENSSL_secure_malloc(KEY_BYTES);
    return k->private_key != NULL;
}

static void key_set_public(struct x25519_key *k, const void *pub)
{
    memcpy(k->public_key, pub, KEY_BYTES);
    k->has_public = true;
}

static int key_has(const void *vkey, int selection)
{
    const struct x25519_key *k = vkey;

    if (k == NULL)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0 && !k->has_public)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 && k->private_key == NULL)
        return 0;
    return 1;   /* and no domain parameters to miss */
}

/*
 * As the default provider's: the public keys are compared when both keys
 * have one, else the private keys when both have one; a selection of key
 * material matches only if something was compared. Domain parameters always
 * match (X25519 has one set).
 */
static int key_match(const void *vkey1, const void *vkey2, int selection)
{
    const struct x25519_key *a = vkey1, *b = vkey2;
    bool compared = false;

    if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) == 0)
        return 1;
    if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0 && a->has_public && b->has_public) {
        if (CRYPTO_memcmp(a->public_key, b->public_key, KEY_BYTES) != 0)
            return 0;
        compared = true;
    }
    if (!compared && (selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 &&
        a->private_key != NULL && b->private_key != NULL) {
        if (CRYPTO_memcmp(a->private_key, b->private_key, KEY_BYTES) != 0)
            return 0;
        compared = true;
    }
    return compared;
}

/*
 * What is selected is there; for a key pair, the public key is the private
 * key's. Any 32 bytes are a public key (RFC 7748): as with the default
 * provider, a key of small order passes here (EVP_PKEY_derive_set_peer's
 * check of the peer's share) and fails the default provider's derive.
 */
static int key_validate(const void *vkey, int selection, int checktype)
{
    const struct x25519_key *k = vkey;
    uint8_t pub[KEY_BYTES];
    int ok;

    (void)checktype;
    if (!key_has(k, selection))
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != OSSL_KEYMGMT_SELECT_KEYPAIR)
        return 1;
    cg_x25519_public_key(pub, k->private_key);
    ok = CRYPTO_memcmp(pub, k->public_key, KEY_BYTES) == 0;
    OPENSSL_cleanse(pub, sizeof(pub));
    return ok;
}

/* An octet-string parameter of exactly KEY_BYTES; NULL and an error raised
 * for anything else. */
static const void *key_bytes_of(const OSSL_PARAM *p)
{
    if (p->data_type != OSSL_PARAM_OCTET_STRING || p->data == NULL || p->data_size != KEY_BYTES) {
        ERR_raise(ERR_LIB_PROV, PROV_R_INVALID_KEY_LENGTH);
        return NULL;
    }
    return p->data;
}

/*
 * The raw public key, the raw private key, or both; a private key alone
 * gets its public key computed. Only key material can be imported (as with
 * the default provider: X25519 has no domain parameters to import).
 */
static int key_import(void *vkey, int selection, const OSSL_PARAM params[])
{
    struct x25519_key *k = vkey;
    const OSSL_PARAM *pub_p, *priv_p = NULL;
    const void *pub = NULL, *priv = NULL;

    if (k == NULL || (selection & OSSL_KEYMGMT_SELECT_KEYPAIR) == 0)
        return 0;
    pub_p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PUB_KEY);
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0)
        priv_p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_PRIV_KEY);
    if (pub_p == NULL && priv_p == NULL)
        return 0;
    if ((pub_p != NULL && (pub = key_bytes_of(pub_p)) == NULL) ||
        (priv_p != NULL && (priv = key_bytes_of(priv_p)) == NULL))
        return 0;
    if (priv != NULL) {
        if (!key_private_room(k))
            return 0;
        memcpy(k->private_key, priv, KEY_BYTES);
        if (pub == NULL) {
            cg_x25519_public_key(k->public_key, k->private_key);
            k->has_public = true;
        }
    }
    if (pub != NULL)
        key_set_public(k, pub);
    return 1;
}

/* What is selected and present; an empty list for a key with none (which
 * an importer makes an empty key of, as a key of parameters is). Every
 * agreement goes through here: EVP moves our key pair and the peer's
 * public key to the default provider's KEYMGMT with it (selection: all),
 * and a public key that comes with the private key is not recomputed
 * there. */
static int key_export(void *vkey, int selection, OSSL_CALLBACK *cb, void *cbarg)
{
    struct x25519_key *k = vkey;
    OSSL_PARAM params[3], *p = params;

    if (k == NULL || (selection & OSSL_KEYMGMT_SELECT_KEYPAIR) == 0)
        return 0;
    if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0 && k->has_public)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY, k->public_key, KEY_BYTES);
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 && k->private_key != NULL)
        *p++ = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, k->private_key, KEY_BYTES);
    *p = OSSL_PARAM_construct_end();
    return cb(params, cbarg);
}

static const OSSL_PARAM key_material_types[] = {
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
    OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, NULL, 0),
    OSSL_PARAM_END,
};

static const OSSL_PARAM *key_imexport_types(int selection)
{
    return (selection & OSSL_KEYMGMT_SELECT_KEYPAIR) != 0 ? key_material_types : NULL;
}

/* Sets p to the key when the key has one; leaves it unmodified (so the
 * caller sees nothing was returned) when not. */
static int key_param_set(OSSL_PARAM *p, const uint8_t *key)
{
    return p == NULL || key == NULL || OSSL_PARAM_set_octet_string(p, key, KEY_BYTES);
}

static int key_get_params(void *vkey, OSSL_PARAM params[])
{
    struct x25519_key *k = vkey;
    const uint8_t *pub = k->has_public ? k->public_key : NULL;
    OSSL_PARAM *p;

    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_BITS)) != NULL &&
        !OSSL_PARAM_set_int(p, X25519_BITS))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_SECURITY_BITS)) != NULL &&
        !OSSL_PARAM_set_int(p, X25519_SECBITS))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_MAX_SIZE)) != NULL &&
        !OSSL_PARAM_set_int(p, KEY_BYTES))
        return 0;
    return key_param_set(OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY), pub) &&
           key_param_set(OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_PUB_KEY), pub) &&
           key_param_set(OSSL_PARAM_locate(params, OSSL_PKEY_PARAM_PRIV_KEY), k->private_key);
}

static const OSSL_PARAM *key_gettable_params(void *provctx)
{
    static const OSSL_PARAM gettable[] = {
        OSSL_PARAM_int(OSSL_PKEY_PARAM_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_SECURITY_BITS, NULL),
        OSSL_PARAM_int(OSSL_PKEY_PARAM_MAX_SIZE, NULL),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PUB_KEY, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_PRIV_KEY, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)provctx;
    return gettable;
}

/* A peer's key share (EVP_PKEY_set1_encoded_public_key): the key becomes
 * that public key, without the private key it may have had. Other
 * parameters are ignored, as OpenSSL's providers do. */
static int key_set_params(void *vkey, const OSSL_PARAM params[])
{
    struct x25519_key *k = vkey;
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY);
    const void *pub;

    if (p == NULL)
        return 1;
    if ((pub = key_bytes_of(p)) == NULL)
        return 0;
    key_drop_private(k);
    key_set_public(k, pub);
    return 1;
}

static const OSSL_PARAM *key_settable_params(void *provctx)
{
    static const OSSL_PARAM settable[] = {
        OSSL_PARAM_octet_string(OSSL_PKEY_PARAM_ENCODED_PUBLIC_KEY, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)provctx;
    return settable;
}

/* The selected parts of a key (none for its parameters:
 * EVP_PKEY_copy_parameters makes an empty key of ours). */
static void *key_dup(const void *vkey, int selection)
{
    const struct x25519_key *src = vkey;
    struct x25519_key *dst = OPENSSL_zalloc(sizeof(*dst));

    if (dst == NULL)
        return NULL;
    dst->libctx = src->libctx;
    if ((selection & OSSL_KEYMGMT_SELECT_PUBLIC_KEY) != 0 && src->has_public)
        key_set_public(dst, src->public_key);
    if ((selection & OSSL_KEYMGMT_SELECT_PRIVATE_KEY) != 0 && src->private_key != NULL) {
        if (!key_private_room(dst)) {
            key_free(dst);
            return NULL;
        }
        memcpy(dst->private_key, src->private_key, KEY_BYTES);
    }
    return dst;
}

/* ---- key generation ------------------------------------------------------ */

struct x25519_gen {
    OSSL_LIB_CTX *libctx;
    int selection;
};

/* The group libssl names (its TLS-GROUP entry's internal name, in any
 * case); any other is refused. Other parameters are ignored. */
static int gen_set_params(void *vgen, const OSSL_PARAM params[])
{
    const OSSL_PARAM *p = OSSL_PARAM_locate_const(params, OSSL_PKEY_PARAM_GROUP_NAME);

    (void)vgen;
    if (p != NULL &&
        (p->data_type != OSSL_PARAM_UTF8_STRING || p->data == NULL || strcasecmp(p->data, "x25519") != 0)) {
        ERR_raise(ERR_LIB_PROV, PROV_R_INVALID_CURVE);
        return 0;
    }
    return 1;
}

static const OSSL_PARAM *gen_settable_params(void *vgen, void *provctx)
{
    static const OSSL_PARAM settable[] = {
        OSSL_PARAM_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)vgen;
    (void)provctx;
    return settable;
}

static void *gen_init(void *provctx, int selection, const OSSL_PARAM params[])
{
    struct x25519_gen *g = OPENSSL_zalloc(sizeof(*g));

    if (g == NULL)
        return NULL;
    g->libctx = cg_provider_libctx(provctx);
    g->selection = selection;
    if (params != NULL && !gen_set_params(g, params)) {
        OPENSSL_free(g);
        return NULL;
    }
    return g;
}

/* A template key (libssl generates a share from the peer's): X25519 keys
 * have no parameters to take from it. */
static int gen_set_template(void *vgen, void *templ)
{
    (void)vgen;
    return templ != NULL;
}

/* A key pair from RAND_priv_bytes (x25519.h clamps); an empty key when only
 * parameters were asked for. */
static void *gen(void *vgen, OSSL_CALLBACK *cb, void *cbarg)
{
    struct x25519_gen *g = vgen;
    struct x25519_key *k;

    (void)cb;
    (void)cbarg;
    if (g == NULL || (k = OPENSSL_zalloc(sizeof(*k))) == NULL)
        return NULL;
    k->libctx = g->libctx;
    if ((g->selection & OSSL_KEYMGMT_SELECT_KEYPAIR) == 0)
        return k;
    if (!key_private_room(k) || RAND_priv_bytes_ex(k->libctx, k->private_key, KEY_BYTES, 0) != 1) {
        ERR_raise(ERR_LIB_PROV, PROV_R_FAILED_TO_GENERATE_KEY);
        key_free(k);
        return NULL;
    }
    cg_x25519_public_key(k->public_key, k->private_key);
    k->has_public = true;
    return k;
}

static void gen_cleanup(void *vgen)
{
    OPENSSL_free(vgen);
}

const OSSL_DISPATCH cg_key_exchange_keymgmt_functions[] = {
    {OSSL_FUNC_KEYMGMT_NEW, (void (*)(void))key_new},
    {OSSL_FUNC_KEYMGMT_FREE, (void (*)(void))key_free},
    {OSSL_FUNC_KEYMGMT_DUP, (void (*)(void))key_dup},
    {OSSL_FUNC_KEYMGMT_HAS, (void (*)(void))key_has},
    {OSSL_FUNC_KEYMGMT_MATCH, (void (*)(void))key_match},
    {OSSL_FUNC_KEYMGMT_VALIDATE, (void (*)(void))key_validate},
    {OSSL_FUNC_KEYMGMT_IMPORT, (void (*)(void))key_import},
    {OSSL_FUNC_KEYMGMT_IMPORT_TYPES, (void (*)(void))key_imexport_types},
    {OSSL_FUNC_KEYMGMT_EXPORT, (void (*)(void))key_export},
    {OSSL_FUNC_KEYMGMT_EXPORT_TYPES, (void (*)(void))key_imexport_types},
    {OSSL_FUNC_KEYMGMT_GET_PARAMS, (void (*)(void))key_get_params},
    {OSSL_FUNC_KEYMGMT_GETTABLE_PARAMS, (void (*)(void))key_gettable_params},
    {OSSL_FUNC_KEYMGMT_SET_PARAMS, (void (*)(void))key_set_params},
    {OSSL_FUNC_KEYMGMT_SETTABLE_PARAMS, (void (*)(void))key_settable_params},
    {OSSL_FUNC_KEYMGMT_GEN_INIT, (void (*)(void))gen_init},
    {OSSL_FUNC_KEYMGMT_GEN_SET_TEMPLATE, (void (*)(void))gen_set_template},
    {OSSL_FUNC_KEYMGMT_GEN_SET_PARAMS, (void (*)(void))gen_set_params},
    {OSSL_FUNC_KEYMGMT_GEN_SETTABLE_PARAMS, (void (*)(void))gen_settable_params},
    {OSSL_FUNC_KEYMGMT_GEN, (void (*)(void))gen},
    {OSSL_FUNC_KEYMGMT_GEN_CLEANUP, (void (*)(void))gen_cleanup},
    {0, NULL},
};

/* ---- the TLS group --------------------------------------------------------- */

/* The default provider's entry for X25519, word for word: x25519 is group
 * 29 (RFC 8422, RFC 8446), 128 bits of security, TLS 1.0 and DTLS 1.0 on.
 * libssl looks a name of SSL_CTX_set1_groups_list up, case-sensitively,
 * among both names: "x25519" and "X25519" (the internal name, which is
 * also what gen_set_params is given) both work, as they do with OpenSSL's. */
static unsigned int group_id = 29, group_secbits = X25519_SECBITS;
static int group_min_tls = TLS1_VERSION, group_max_tls = 0, group_min_dtls = DTLS1_VERSION,
           group_max_dtls = 0;

const OSSL_PARAM cg_key_exchange_tls_group[] = {
    OSSL_PARAM_utf8_string(OSSL_CAPABILITY_TLS_GROUP_NAME, "x25519", sizeof("x25519")),
    OSSL_PARAM_utf8_string(OSSL_CAPABILITY_TLS_GROUP_NAME_INTERNAL, "X25519", sizeof("X25519")),
    OSSL_PARAM_utf8_string(OSSL_CAPABILITY_TLS_GROUP_ALG, "X25519", sizeof("X25519")),
    OSSL_PARAM_uint(OSSL_CAPABILITY_TLS_GROUP_ID, &group_id),
    OSSL_PARAM_uint(OSSL_CAPABILITY_TLS_GROUP_SECURITY_BITS, &group_secbits),
    OSSL_PARAM_int(OSSL_CAPABILITY_TLS_GROUP_MIN_TLS, &group_min_tls),
    OSSL_PARAM_int(OSSL_CAPABILITY_TLS_GROUP_MAX_TLS, &group_max_tls),
    OSSL_PARAM_int(OSSL_CAPABILITY_TLS_GROUP_MIN_DTLS, &group_min_dtls),
    OSSL_PARAM_int(OSSL_CAPABILITY_TLS_GROUP_MAX_DTLS, &group_max_dtls),
    OSSL_PARAM_END,
};

/* ---- selection ------------------------------------------------------------- */

static cg_key_exchange_t current = CG_KEY_EXCHANGE_OPENSSL;

int cg_key_exchange_prepare(char **err)
{
    EVP_KEYMGMT *km = EVP_KEYMGMT_fetch(NULL, "X25519", "provider=default");
    EVP_KEYEXCH *kx = EVP_KEYEXCH_fetch(NULL, "X25519", "provider=default");
    int rc = km != NULL && kx != NULL ? CG_OK : CG_ERR;

    /* The fetches registered them in the method store (which keeps them):
     * the KEYMGMT ahead of ours, so that a fetch with no query keeps getting
     * it; the KEYEXCH is the one every agreement of our keys uses. */
    if (rc != CG_OK)
        cg_set_err(err, "tls key exchange: the default provider has no X25519");
    EVP_KEYMGMT_free(km);
    EVP_KEYEXCH_free(kx);
    return rc;
}

const char *cg_key_exchange_name(cg_key_exchange_t mode)
{
    return mode == CG_KEY_EXCHANGE_BUILTIN ? "builtin" : "openssl";
}

cg_key_exchange_t cg_key_exchange_current(void)
{
    return current;
}

int cg_key_exchange_select(cg_key_exchange_t mode, char **err)
{
    if (mode == CG_KEY_EXCHANGE_BUILTIN && cg_provider_load(err) != CG_OK)
        return CG_ERR;
    current = mode;
    return CG_OK;
}
