/*
 * key_schedule.c: the TLS 1.3 key schedule (RFC 8446 section 7.1) and the
 * Finished HMAC, for SHA-256 and SHA-384, as algorithms of certgate's
 * OpenSSL provider (provider.c).
 *
 * Why: libssl 3.0 derives each of the ~20 secrets of a handshake by
 * fetching the "TLS13-KDF" algorithm, making a context, setting its
 * parameters and deriving; the default provider then fetches the digest
 * again and builds HMAC contexts through EVP for every HMAC it computes.
 * That bookkeeping costs more than the hashing itself (bench/README.md,
 * "The TLS 1.3 key schedule"). Here a derivation is a few SHA-2 compression
 * calls on a context of one allocation (the one EVP_KDF_CTX_new asks for):
 * no fetch, no EVP_MD_CTX, no HMAC_CTX.
 *
 * The semantics are the default provider's, parameter by parameter:
 * "TLS13-KDF" with mode EXTRACT_ONLY computes HKDF-Extract(salt, key), where
 * a salt (the previous secret) is first turned into
 * Derive-Secret(salt, prefix + label, Hash("")) and a missing key or salt
 * stands for HashLen zero bytes; with EXPAND_ONLY it computes
 * HKDF-Expand(key, HkdfLabel(length, prefix + label, data), length). "HMAC"
 * is the MAC as EVP_MAC and EVP_Q_mac use it. Anything else (another
 * digest, HMAC's tls-data-size, a property query not ours) is handed over,
 * state included, to a context of the default provider's own algorithm, so
 * nothing the default provider accepts can fail here.
 *
 * The hashing is OpenSSL's: its SHA256_* and SHA384_* functions, which are
 * deprecated in OpenSSL 3 (in favour of EVP, whose per-context set-up is
 * what this module avoids) but still shipped. OPENSSL_SUPPRESS_DEPRECATED is
 * defined here and in ec_keydecode.c only, so the rest of the code base keeps
 * being warned about deprecated calls.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "tls/key_schedule.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/core.h>
#include <openssl/core_dispatch.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/proverr.h>
#include <openssl/sha.h>

#include "core/common.h"
#include "tls/provider.h"
#include "tls/provider_internal.h"

/* ---- SHA-2 and HMAC -------------------------------------------------- */

#define MAX_MD    SHA512_DIGEST_LENGTH
#define MAX_BLOCK SHA512_CBLOCK

union hash_ctx {
    SHA256_CTX sha256;
    SHA512_CTX sha512;   /* SHA-384 runs on SHA-512's context */
};

struct hash_alg {
    const char *const *names;   /* the default provider's names, case-insensitive */
    size_t md_len, block_len;
    void (*init)(union hash_ctx *c);
    void (*update)(union hash_ctx *c, const void *p, size_t n);
    void (*final)(union hash_ctx *c, unsigned char *md);
};

static void sha256_init(union hash_ctx *c)
{
    SHA256_Init(&c->sha256);
}

static void sha256_update(union hash_ctx *c, const void *p, size_t n)
{
    SHA256_Update(&c->sha256, p, n);
}

static void sha256_final(union hash_ctx *c, unsigned char *md)
{
    SHA256_Final(md, &c->sha256);
}

static void sha384_init(union hash_ctx *c)
{
    SHA384_Init(&c->sha512);
}

static void sha384_update(union hash_ctx *c, const void *p, size_t n)
{
    SHA384_Update(&c->sha512, p, n);
}

static void sha384_final(union hash_ctx *c, unsigned char *md)
{
    SHA384_Final(md, &c->sha512);
}

static const char *const sha256_names[] = {
    "SHA2-256", "SHA-256", "SHA256", "2.16.840.1.101.3.4.2.1", NULL};
static const char *const sha384_names[] = {
    "SHA2-384", "SHA-384", "SHA384", "2.16.840.1.101.3.4.2.2", NULL};
static const struct hash_alg hash_algs[] = {
    {sha256_names, SHA256_DIGEST_LENGTH, SHA256_CBLOCK, sha256_init, sha256_update, sha256_final},
    {sha384_names, SHA384_DIGEST_LENGTH, SHA512_CBLOCK, sha384_init, sha384_update, sha384_final},
};

/* The fast algorithm a digest name stands for; NULL for any other digest. */
static const struct hash_alg *hash_alg_by_name(const char *name)
{
    for (size_t i = 0; i < CG_ARRAY_LEN(hash_algs); i++) {
        for (const char *const *n = hash_algs[i].names; *n != NULL; n++) {
            if (strcasecmp(name, *n) == 0)
                return &hash_algs[i];
        }
    }
    return NULL;
}

/* An HMAC key: the hash states after the inner and the outer pad. */
struct hmac_key {
    union hash_ctx inner, outer;
};

static void hmac_set_key(const struct hash_alg *h, struct hmac_key *k, const unsigned char *key,
                         size_t len)
{
    unsigned char k0[MAX_BLOCK] = {0}, pad[MAX_BLOCK];

    if (len > h->block_len) {
        union hash_ctx c;
        h->init(&c);
        h->update(&c, key, len);
        h->final(&c, k0);
    } else if (len > 0) {
        memcpy(k0, key, len);
    }
    for (size_t i = 0; i < h->block_len; i++)
        pad[i] = k0[i] ^ 0x36;
    h->init(&k->inner);
    h->update(&k->inner, pad, h->block_len);
    for (size_t i = 0; i < h->block_len; i++)
        pad[i] = k0[i] ^ 0x5c;
    h->init(&k->outer);
    h->update(&k->outer, pad, h->block_len);
    OPENSSL_cleanse(k0, sizeof(k0));
    OPENSSL_cleanse(pad, sizeof(pad));
}

/* Finishes an HMAC whose inner hash has absorbed the message. */
static void hmac_finish(const struct hash_alg *h, const struct hmac_key *k, union hash_ctx *inner,
                        unsigned char *out)
{
    unsigned char ih[MAX_MD];
    union hash_ctx outer = k->outer;

    h->final(inner, ih);
    h->update(&outer, ih, h->md_len);
    h->final(&outer, out);
    OPENSSL_cleanse(ih, sizeof(ih));
    OPENSSL_cleanse(&outer, sizeof(outer));
}

/* ---- parameter values kept by a context ------------------------------ */

/* Secrets and labels of the key schedule fit inline; longer ones (only
 * callers other than libssl send them) go to the heap. */
#define BLOB_INLINE 64

struct blob {
    bool set;                  /* given (an empty value is not a missing one) */
    size_t len;
    unsigned char *heap;       /* owned, when len > BLOB_INLINE */
    unsigned char in[BLOB_INLINE];
};

static const unsigned char *blob_data(const struct blob *b)
{
    return b->heap != NULL ? b->heap : b->in;
}

static void blob_clear(struct blob *b)
{
    OPENSSL_clear_free(b->heap, b->len);
    OPENSSL_cleanse(b, sizeof(*b));
}

static bool blob_set(struct blob *b, const void *p, size_t len)
{
    blob_clear(b);
    if (len > BLOB_INLINE) {
        if ((b->heap = OPENSSL_malloc(len)) == NULL)
            return false;
        memcpy(b->heap, p, len);
    } else if (len > 0) {
        memcpy(b->in, p, len);
    }
    b->len = len;
    b->set = true;
    return true;
}

/* Copies an octet-string parameter into b; false for another type. */
static bool blob_from_param(struct blob *b, const OSSL_PARAM *p)
{
    if (p->data_type != OSSL_PARAM_OCTET_STRING) {
        ERR_raise(ERR_LIB_PROV, PROV_R_FAILED_TO_GET_PARAMETER);
        return false;
    }
    return blob_set(b, p->data, p->data_size);
}

static bool blob_dup(struct blob *dst, const struct blob *src)
{
    *dst = *src;
    if (src->heap != NULL && (dst->heap = OPENSSL_memdup(src->heap, src->len)) == NULL) {
        dst->set = false;
        dst->len = 0;
        return false;
    }
    return true;
}

static OSSL_PARAM blob_param(const char *key, const struct blob *b)
{
    return OSSL_PARAM_construct_octet_string(key, (void *)blob_data(b), b->len);
}

/* The default provider's algorithms, for what the fast path leaves over;
 * fetched once when the provider is loaded, kept for the process's life. */
static EVP_KDF *default_kdf;
static EVP_MAC *default_mac;

/*
 * Whether a digest parameter d (with its property query q; either may be
 * NULL) names what the fast path does not serve. A query is ours when empty
 * or one cg_provider_propq makes: libssl passes its SSL_CTX's query on to
 * the Finished HMAC, and any other query could select a different SHA-2
 * implementation (FIPS), which only the default provider's code would honour.
 */
static bool digest_not_ours(const OSSL_PARAM *d, const OSSL_PARAM *q)
{
    if (d == NULL)
        return false;   /* a query alone changes nothing */
    if (d->data_type != OSSL_PARAM_UTF8_STRING || d->data == NULL ||
        hash_alg_by_name(d->data) == NULL)
        return true;
    if (q == NULL)
        return false;
    return q->data_type != OSSL_PARAM_UTF8_STRING || q->data == NULL ||
           (((const char *)q->data)[0] != '\0' && !cg_provider_propq_is_ours(q->data));
}

/*
 * params followed by `extra` (n_extra entries) and the end marker, in a new
 * array: what a hand-over sets on the default provider's context. The
 * caller's come first, so they win where both name a key
 * (OSSL_PARAM_locate takes the first).
 */
static OSSL_PARAM *params_merge(const OSSL_PARAM *params, const OSSL_PARAM *extra, size_t n_extra)
{
    size_t n = 0;
    OSSL_PARAM *all;

    while (params[n].key != NULL)
        n++;
    if ((all = OPENSSL_malloc((n + n_extra + 1) * sizeof(*all))) == NULL)
        return NULL;
    memcpy(all, params, n * sizeof(*all));
    memcpy(all + n, extra, n_extra * sizeof(*all));
    all[n + n_extra] = OSSL_PARAM_construct_end();
    return all;
}

/* ---- TLS13-KDF --------------------------------------------------------- */

/* No dupctx: OpenSSL 3.0's TLS13-KDF has none either (EVP_KDF_CTX_dup
 * returns NULL for both). */
struct kdf_ctx {
    int mode;                       /* EVP_KDF_HKDF_MODE_* (0 until set) */
    const struct hash_alg *alg;     /* NULL until a digest is set */
    struct blob key, salt, prefix, label, data;
    EVP_KDF_CTX *delegate;          /* owned; once set, it does all the work */
};

static void kdf_reset(void *vctx)
{
    struct kdf_ctx *c = vctx;

    EVP_KDF_CTX_free(c->delegate);
    blob_clear(&c->key);
    blob_clear(&c->salt);
    blob_clear(&c->prefix);
    blob_clear(&c->label);
    blob_clear(&c->data);
    memset(c, 0, sizeof(*c));
}

static void *kdf_new(void *provctx)
{
    (void)provctx;
    return OPENSSL_zalloc(sizeof(struct kdf_ctx));
}

static void kdf_free(void *vctx)
{
    if (vctx == NULL)
        return;
    kdf_reset(vctx);
    OPENSSL_free(vctx);
}

/* Moves the context onto the default provider's TLS13-KDF: a context of
 * that algorithm gets everything set so far, then params. */
static int kdf_hand_over(struct kdf_ctx *c, const OSSL_PARAM params[])
{
    OSSL_PARAM kept[8], *k = kept, *all = NULL;
    EVP_KDF_CTX *d = NULL;
    int ok = 0;

    *k++ = OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &c->mode);
    if (c->alg != NULL)
        *k++ = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST, (char *)c->alg->names[0], 0);
    if (c->key.set)
        *k++ = blob_param(OSSL_KDF_PARAM_KEY, &c->key);
    if (c->salt.set)
        *k++ = blob_param(OSSL_KDF_PARAM_SALT, &c->salt);
    if (c->prefix.set)
        *k++ = blob_param(OSSL_KDF_PARAM_PREFIX, &c->prefix);
    if (c->label.set)
        *k++ = blob_param(OSSL_KDF_PARAM_LABEL, &c->label);
    if (c->data.set)
        *k++ = blob_param(OSSL_KDF_PARAM_DATA, &c->data);
    if (default_kdf == NULL || (d = EVP_KDF_CTX_new(default_kdf)) == NULL ||
        (all = params_merge(params, kept, (size_t)(k - kept))) == NULL ||
        !EVP_KDF_CTX_set_params(d, all))
        goto done;
    c->delegate = d;
    d = NULL;
    ok = 1;
done:
    OPENSSL_free(all);
    EVP_KDF_CTX_free(d);
    return ok;
}

static int kdf_set_mode(struct kdf_ctx *c, const OSSL_PARAM *p)
{
    int n;

    if (p->data_type == OSSL_PARAM_UTF8_STRING) {
        if (p->data != NULL && strcasecmp(p->data, "EXTRACT_AND_EXPAND") == 0)
            c->mode = EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND;
        else if (p->data != NULL && strcasecmp(p->data, "EXTRACT_ONLY") == 0)
            c->mode = EVP_KDF_HKDF_MODE_EXTRACT_ONLY;
        else if (p->data != NULL && strcasecmp(p->data, "EXPAND_ONLY") == 0)
            c->mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
        else
            goto invalid;
        return 1;
    }
    if (!OSSL_PARAM_get_int(p, &n) ||
        (n != EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND && n != EVP_KDF_HKDF_MODE_EXTRACT_ONLY &&
         n != EVP_KDF_HKDF_MODE_EXPAND_ONLY))
        goto invalid;
    c->mode = n;
    return 1;
invalid:
    ERR_raise(ERR_LIB_PROV, PROV_R_INVALID_MODE);
    return 0;
}

/* The first parameter of each key the KDF knows, found in one pass (what
 * OSSL_PARAM_locate would find, without a scan per key). */
struct kdf_params {
    const OSSL_PARAM *digest, *props, *mode, *key, *salt, *prefix, *label, *data;
};

static void kdf_params_find(const OSSL_PARAM *params, struct kdf_params *f)
{
    static const struct {
        const char *key;
        size_t at;
    } keys[] = {
        {OSSL_KDF_PARAM_DIGEST, offsetof(struct kdf_params, digest)},
        {OSSL_KDF_PARAM_PROPERTIES, offsetof(struct kdf_params, props)},
        {OSSL_KDF_PARAM_MODE, offsetof(struct kdf_params, mode)},
        {OSSL_KDF_PARAM_KEY, offsetof(struct kdf_params, key)},
        {OSSL_KDF_PARAM_SALT, offsetof(struct kdf_params, salt)},
        {OSSL_KDF_PARAM_PREFIX, offsetof(struct kdf_params, prefix)},
        {OSSL_KDF_PARAM_LABEL, offsetof(struct kdf_params, label)},
        {OSSL_KDF_PARAM_DATA, offsetof(struct kdf_params, data)},
    };

    memset(f, 0, sizeof(*f));
    for (const OSSL_PARAM *p = params; p->key != NULL; p++) {
        for (size_t i = 0; i < CG_ARRAY_LEN(keys); i++) {
            const OSSL_PARAM **slot = (const OSSL_PARAM **)((char *)f + keys[i].at);

            if (strcmp(p->key, keys[i].key) == 0) {
                if (*slot == NULL)
                    *slot = p;
                break;
            }
        }
    }
}

static int kdf_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    struct kdf_ctx *c = vctx;
    struct kdf_params f;

    if (params == NULL)
        return 1;
    if (c->delegate != NULL)
        return EVP_KDF_CTX_set_params(c->delegate, params);
    kdf_params_find(params, &f);
    if (digest_not_ours(f.digest, f.props))
        return kdf_hand_over(c, params);
    if (f.digest != NULL)
        c->alg = hash_alg_by_name(f.digest->data);
    if ((f.mode != NULL && !kdf_set_mode(c, f.mode)) ||
        (f.key != NULL && !blob_from_param(&c->key, f.key)) ||
        (f.salt != NULL && !blob_from_param(&c->salt, f.salt)))
        return 0;
    /* TLS13-KDF has no extract-and-expand; a context whose mode was never
     * set is in that mode, so every set before the mode is refused. */
    if (c->mode == EVP_KDF_HKDF_MODE_EXTRACT_AND_EXPAND) {
        ERR_raise(ERR_LIB_PROV, PROV_R_INVALID_MODE);
        return 0;
    }
    if ((f.prefix != NULL && !blob_from_param(&c->prefix, f.prefix)) ||
        (f.label != NULL && !blob_from_param(&c->label, f.label)))
        return 0;
    /* As OpenSSL's: data set once does not outlive the next set. */
    blob_clear(&c->data);
    if (f.data != NULL && !blob_from_param(&c->data, f.data))
        return 0;
    return 1;
}

/*
 * HKDF-Expand-Label (RFC 8446 7.1): HKDF-Expand(secret, HkdfLabel, outlen),
 * HkdfLabel = uint16 outlen, opaque label<0..255> = prefix + label,
 * opaque context<0..255> = data.
 */
static int tls13_expand(const struct hash_alg *h, const struct blob *secret,
                        const struct blob *prefix, const struct blob *label,
                        const unsigned char *data, size_t data_len, unsigned char *out,
                        size_t outlen)
{
    unsigned char info[2 + 1 + 255 + 1 + 255], t[MAX_MD];
    size_t info_len = 0, done = 0, n;
    struct hmac_key k;

    if (!secret->set) {
        ERR_raise(ERR_LIB_PROV, PROV_R_MISSING_KEY);
        return 0;
    }
    n = (outlen + h->md_len - 1) / h->md_len;
    if (outlen > 0xffff || n > 255 || prefix->len + label->len > 255 || data_len > 255) {
        ERR_raise(ERR_LIB_PROV, PROV_R_LENGTH_TOO_LARGE);
        return 0;
    }
    if (out == NULL)
        return 0;
    info[info_len++] = (unsigned char)(outlen >> 8);
    info[info_len++] = (unsigned char)outlen;
    info[info_len++] = (unsigned char)(prefix->len + label->len);
    if (prefix->len > 0)
        memcpy(info + info_len, blob_data(prefix), prefix->len);
    info_len += prefix->len;
    if (label->len > 0)
        memcpy(info + info_len, blob_data(label), label->len);
    info_len += label->len;
    info[info_len++] = (unsigned char)data_len;
    if (data_len > 0)
        memcpy(info + info_len, data, data_len);
    info_len += data_len;

    /* T(i) = HMAC(secret, T(i-1) | info | i), T(0) empty. */
    hmac_set_key(h, &k, blob_data(secret), secret->len);
    for (size_t i = 1; i <= n; i++) {
        union hash_ctx c = k.inner;
        unsigned char ctr = (unsigned char)i;
        size_t chunk = outlen - done < h->md_len ? outlen - done : h->md_len;

        if (i > 1)
            h->update(&c, t, h->md_len);
        h->update(&c, info, info_len);
        h->update(&c, &ctr, 1);
        hmac_finish(h, &k, &c, t);
        memcpy(out + done, t, chunk);
        done += chunk;
    }
    OPENSSL_cleanse(t, sizeof(t));
    OPENSSL_cleanse(&k, sizeof(k));
    return 1;
}

/*
 * HKDF-Extract(salt, key) as the TLS 1.3 schedule uses it: a missing key is
 * HashLen zeros; a missing salt too, and a given salt (the previous stage's
 * secret) is first turned into Derive-Secret(salt, prefix + label, "").
 */
static int tls13_extract(const struct kdf_ctx *c, unsigned char *out, size_t outlen)
{
    static const unsigned char zeros[MAX_MD];
    const struct hash_alg *h = c->alg;
    unsigned char derived[MAX_MD], empty_hash[MAX_MD];
    const unsigned char *salt = zeros, *ikm = zeros;
    size_t salt_len = h->md_len, ikm_len = h->md_len;
    struct hmac_key k;
    union hash_ctx hc;

    if (outlen != h->md_len) {
        ERR_raise(ERR_LIB_PROV, PROV_R_WRONG_OUTPUT_BUFFER_SIZE);
        return 0;
    }
    if (c->key.set) {
        ikm = blob_data(&c->key);
        ikm_len = c->key.len;
    }
    if (c->salt.set) {
        h->init(&hc);
        h->final(&hc, empty_hash);
        if (!tls13_expand(h, &c->salt, &c->prefix, &c->label, empty_hash, h->md_len, derived,
                          h->md_len))
            return 0;
        salt = derived;
    }
    hmac_set_key(h, &k, salt, salt_len);
    hc = k.inner;
    h->update(&hc, ikm, ikm_len);
    hmac_finish(h, &k, &hc, out);
    OPENSSL_cleanse(derived, sizeof(derived));
    OPENSSL_cleanse(&k, sizeof(k));
    return 1;
}

static int kdf_derive(void *vctx, unsigned char *out, size_t outlen, const OSSL_PARAM params[])
{
    struct kdf_ctx *c = vctx;

    if (!kdf_set_ctx_params(c, params))
        return 0;
    if (c->delegate != NULL)
        return EVP_KDF_derive(c->delegate, out, outlen, NULL);
    if (c->alg == NULL) {
        ERR_raise(ERR_LIB_PROV, PROV_R_MISSING_MESSAGE_DIGEST);
        return 0;
    }
    switch (c->mode) {
    case EVP_KDF_HKDF_MODE_EXTRACT_ONLY:
        return tls13_extract(c, out, outlen);
    case EVP_KDF_HKDF_MODE_EXPAND_ONLY:
        return tls13_expand(c->alg, &c->key, &c->prefix, &c->label, blob_data(&c->data),
                            c->data.len, out, outlen);
    default:
        return 0;
    }
}

static int kdf_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    struct kdf_ctx *c = vctx;
    OSSL_PARAM *p;

    if (c->delegate != NULL)
        return EVP_KDF_CTX_get_params(c->delegate, params);
    if ((p = OSSL_PARAM_locate(params, OSSL_KDF_PARAM_SIZE)) != NULL) {
        size_t size = SIZE_MAX;   /* expanding has no fixed size */

        if (c->mode == EVP_KDF_HKDF_MODE_EXTRACT_ONLY) {
            if (c->alg == NULL) {
                ERR_raise(ERR_LIB_PROV, PROV_R_MISSING_MESSAGE_DIGEST);
                return 0;
            }
            size = c->alg->md_len;
        }
        return OSSL_PARAM_set_size_t(p, size);
    }
    return 1;
}

static const OSSL_PARAM *kdf_settable_ctx_params(void *vctx, void *provctx)
{
    static const OSSL_PARAM settable[] = {
        OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_MODE, NULL, 0),
        OSSL_PARAM_int(OSSL_KDF_PARAM_MODE, NULL),
        OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_PROPERTIES, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_KDF_PARAM_DIGEST, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_KDF_PARAM_KEY, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_KDF_PARAM_SALT, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_KDF_PARAM_PREFIX, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_KDF_PARAM_LABEL, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_KDF_PARAM_DATA, NULL, 0),
        OSSL_PARAM_END,
    };
    (void)vctx;
    (void)provctx;
    return settable;
}

static const OSSL_PARAM *kdf_gettable_ctx_params(void *vctx, void *provctx)
{
    static const OSSL_PARAM gettable[] = {
        OSSL_PARAM_size_t(OSSL_KDF_PARAM_SIZE, NULL),
        OSSL_PARAM_END,
    };
    (void)vctx;
    (void)provctx;
    return gettable;
}

const OSSL_DISPATCH cg_key_schedule_kdf_functions[] = {
    {OSSL_FUNC_KDF_NEWCTX, (void (*)(void))kdf_new},
    {OSSL_FUNC_KDF_FREECTX, (void (*)(void))kdf_free},
    {OSSL_FUNC_KDF_RESET, (void (*)(void))kdf_reset},
    {OSSL_FUNC_KDF_DERIVE, (void (*)(void))kdf_derive},
    {OSSL_FUNC_KDF_SETTABLE_CTX_PARAMS, (void (*)(void))kdf_settable_ctx_params},
    {OSSL_FUNC_KDF_SET_CTX_PARAMS, (void (*)(void))kdf_set_ctx_params},
    {OSSL_FUNC_KDF_GETTABLE_CTX_PARAMS, (void (*)(void))kdf_gettable_ctx_params},
    {OSSL_FUNC_KDF_GET_CTX_PARAMS, (void (*)(void))kdf_get_ctx_params},
    {0, NULL},
};

/* ---- HMAC ------------------------------------------------------------- */

struct mac_ctx {
    const struct hash_alg *alg;   /* NULL until a digest is set */
    struct blob key;              /* as given, for a re-key or a hand-over */
    struct hmac_key k;            /* valid when key.set and alg != NULL */
    union hash_ctx running;       /* the inner hash of the message so far */
    bool absorbed;                /* data went into `running` since init */
    EVP_MAC_CTX *delegate;        /* owned; once set, it does all the work */
};

static void *mac_new(void *provctx)
{
    (void)provctx;
    return OPENSSL_zalloc(sizeof(struct mac_ctx));
}

static void mac_free(void *vctx)
{
    struct mac_ctx *c = vctx;

    if (c == NULL)
        return;
    EVP_MAC_CTX_free(c->delegate);
    blob_clear(&c->key);
    OPENSSL_clear_free(c, sizeof(*c));
}

static void *mac_dup(void *vctx)
{
    const struct mac_ctx *src = vctx;
    struct mac_ctx *dst = OPENSSL_malloc(sizeof(*dst));

    if (dst == NULL)
        return NULL;
    *dst = *src;
    dst->delegate = NULL;
    if (!blob_dup(&dst->key, &src->key) ||
        (src->delegate != NULL && (dst->delegate = EVP_MAC_CTX_dup(src->delegate)) == NULL)) {
        mac_free(dst);
        return NULL;
    }
    return dst;
}

/* Keys the HMAC again from the stored key and restarts the message. */
static void mac_rekey(struct mac_ctx *c)
{
    if (c->alg != NULL && c->key.set) {
        hmac_set_key(c->alg, &c->k, blob_data(&c->key), c->key.len);
        c->running = c->k.inner;
    }
    c->absorbed = false;
}

/*
 * Moves the context onto the default provider's HMAC: digest and key so far,
 * then params. A message already begun cannot follow (its bytes are not
 * kept): refused, which no caller of ours does (libssl sets tls-data-size
 * right after the key).
 */
static int mac_hand_over(struct mac_ctx *c, const OSSL_PARAM params[])
{
    OSSL_PARAM kept[2], *k = kept, *all = NULL;
    EVP_MAC_CTX *d = NULL;
    int ok = 0;

    if (c->absorbed) {
        ERR_raise(ERR_LIB_PROV, PROV_R_NOT_SUPPORTED);
        return 0;
    }
    if (c->alg != NULL)
        *k++ = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)c->alg->names[0], 0);
    if (c->key.set)
        *k++ = blob_param(OSSL_MAC_PARAM_KEY, &c->key);
    if (default_mac == NULL || (d = EVP_MAC_CTX_new(default_mac)) == NULL ||
        (all = params_merge(params, kept, (size_t)(k - kept))) == NULL ||
        !EVP_MAC_CTX_set_params(d, all))
        goto done;
    c->delegate = d;
    d = NULL;
    ok = 1;
done:
    OPENSSL_free(all);
    EVP_MAC_CTX_free(d);
    return ok;
}

/* Whether the fast path serves params: a digest of ours, its query, the
 * key, nothing else. *digest and *key: the first of each (or NULL). */
static bool mac_params_ours(const OSSL_PARAM params[], const OSSL_PARAM **digest,
                            const OSSL_PARAM **key)
{
    const OSSL_PARAM *props = NULL;

    *digest = *key = NULL;
    for (const OSSL_PARAM *p = params; p->key != NULL; p++) {
        const OSSL_PARAM **slot;

        if (strcmp(p->key, OSSL_MAC_PARAM_DIGEST) == 0)
            slot = digest;
        else if (strcmp(p->key, OSSL_MAC_PARAM_KEY) == 0)
            slot = key;
        else if (strcmp(p->key, OSSL_MAC_PARAM_PROPERTIES) == 0)
            slot = &props;
        else
            return false;
        if (*slot == NULL)
            *slot = p;
    }
    return !digest_not_ours(*digest, props);
}

static int mac_set_ctx_params(void *vctx, const OSSL_PARAM params[])
{
    struct mac_ctx *c = vctx;
    const OSSL_PARAM *digest, *key;

    if (params == NULL)
        return 1;
    if (c->delegate != NULL)
        return EVP_MAC_CTX_set_params(c->delegate, params);
    if (!mac_params_ours(params, &digest, &key))
        return mac_hand_over(c, params);
    if (digest != NULL)
        c->alg = hash_alg_by_name(digest->data);
    if (key != NULL && !blob_from_param(&c->key, key))
        return 0;
    if (digest != NULL || key != NULL)
        mac_rekey(c);
    return 1;
}

static int mac_init(void *vctx, const unsigned char *key, size_t keylen, const OSSL_PARAM params[])
{
    struct mac_ctx *c = vctx;

    if (!mac_set_ctx_params(c, params))
        return 0;
    if (c->delegate != NULL)
        return EVP_MAC_init(c->delegate, key, keylen, NULL);
    if (key != NULL) {
        if (!blob_set(&c->key, key, keylen))
            return 0;
    } else if (!c->key.set || c->alg == NULL) {
        return 0;   /* nothing to start again from */
    }
    mac_rekey(c);
    return 1;
}

static int mac_update(void *vctx, const unsigned char *data, size_t len)
{
    struct mac_ctx *c = vctx;

    if (c->delegate != NULL)
        return EVP_MAC_update(c->delegate, data, len);
    if (c->alg == NULL || !c->key.set)
        return 0;
    c->alg->update(&c->running, data, len);
    c->absorbed = true;
    return 1;
}

static int mac_final(void *vctx, unsigned char *out, size_t *outl, size_t outsize)
{
    struct mac_ctx *c = vctx;

    if (c->delegate != NULL)
        return EVP_MAC_final(c->delegate, out, outl, outsize);
    if (c->alg == NULL || !c->key.set || outsize < c->alg->md_len)
        return 0;
    hmac_finish(c->alg, &c->k, &c->running, out);
    *outl = c->alg->md_len;
    c->running = c->k.inner;
    c->absorbed = false;
    return 1;
}

static int mac_get_ctx_params(void *vctx, OSSL_PARAM params[])
{
    struct mac_ctx *c = vctx;
    OSSL_PARAM *p;

    if (c->delegate != NULL)
        return EVP_MAC_CTX_get_params(c->delegate, params);
    if ((p = OSSL_PARAM_locate(params, OSSL_MAC_PARAM_SIZE)) != NULL &&
        !OSSL_PARAM_set_size_t(p, c->alg != NULL ? c->alg->md_len : 0))
        return 0;
    if ((p = OSSL_PARAM_locate(params, OSSL_MAC_PARAM_BLOCK_SIZE)) != NULL &&
        !OSSL_PARAM_set_size_t(p, c->alg != NULL ? c->alg->block_len : 0))
        return 0;
    return 1;
}

static const OSSL_PARAM *mac_settable_ctx_params(void *vctx, void *provctx)
{
    /* The default provider's list: EVP_Q_mac looks "digest" up in it, and
     * what the fast path does not serve is handed over. */
    static const OSSL_PARAM settable[] = {
        OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_DIGEST, NULL, 0),
        OSSL_PARAM_utf8_string(OSSL_MAC_PARAM_PROPERTIES, NULL, 0),
        OSSL_PARAM_octet_string(OSSL_MAC_PARAM_KEY, NULL, 0),
        OSSL_PARAM_int(OSSL_MAC_PARAM_DIGEST_NOINIT, NULL),
        OSSL_PARAM_int(OSSL_MAC_PARAM_DIGEST_ONESHOT, NULL),
        OSSL_PARAM_size_t(OSSL_MAC_PARAM_TLS_DATA_SIZE, NULL),
        OSSL_PARAM_END,
    };
    (void)vctx;
    (void)provctx;
    return settable;
}

static const OSSL_PARAM *mac_gettable_ctx_params(void *vctx, void *provctx)
{
    static const OSSL_PARAM gettable[] = {
        OSSL_PARAM_size_t(OSSL_MAC_PARAM_SIZE, NULL),
        OSSL_PARAM_size_t(OSSL_MAC_PARAM_BLOCK_SIZE, NULL),
        OSSL_PARAM_END,
    };
    (void)vctx;
    (void)provctx;
    return gettable;
}

const OSSL_DISPATCH cg_key_schedule_mac_functions[] = {
    {OSSL_FUNC_MAC_NEWCTX, (void (*)(void))mac_new},
    {OSSL_FUNC_MAC_DUPCTX, (void (*)(void))mac_dup},
    {OSSL_FUNC_MAC_FREECTX, (void (*)(void))mac_free},
    {OSSL_FUNC_MAC_INIT, (void (*)(void))mac_init},
    {OSSL_FUNC_MAC_UPDATE, (void (*)(void))mac_update},
    {OSSL_FUNC_MAC_FINAL, (void (*)(void))mac_final},
    {OSSL_FUNC_MAC_GETTABLE_CTX_PARAMS, (void (*)(void))mac_gettable_ctx_params},
    {OSSL_FUNC_MAC_GET_CTX_PARAMS, (void (*)(void))mac_get_ctx_params},
    {OSSL_FUNC_MAC_SETTABLE_CTX_PARAMS, (void (*)(void))mac_settable_ctx_params},
    {OSSL_FUNC_MAC_SET_CTX_PARAMS, (void (*)(void))mac_set_ctx_params},
    {0, NULL},
};

/* ---- selection ---------------------------------------------------------- */

static cg_key_schedule_t current = CG_KEY_SCHEDULE_OPENSSL;

int cg_key_schedule_prepare(char **err)
{
    if (default_kdf == NULL)
        default_kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_TLS1_3_KDF, "provider=default");
    if (default_mac == NULL)
        default_mac = EVP_MAC_fetch(NULL, OSSL_MAC_NAME_HMAC, "provider=default");
    if (default_kdf == NULL || default_mac == NULL) {
        cg_set_err(err, "tls key schedule: the default provider has no TLS13-KDF or HMAC");
        return CG_ERR;
    }
    return CG_OK;
}

const char *cg_key_schedule_name(cg_key_schedule_t mode)
{
    return mode == CG_KEY_SCHEDULE_BUILTIN ? "builtin" : "openssl";
}

cg_key_schedule_t cg_key_schedule_current(void)
{
    return current;
}

const char *cg_key_schedule_propq(void)
{
    return current == CG_KEY_SCHEDULE_BUILTIN ? CG_KEY_SCHEDULE_PROPQ : NULL;
}

int cg_key_schedule_select(cg_key_schedule_t mode, char **err)
{
    if (mode == CG_KEY_SCHEDULE_BUILTIN && cg_provider_load(err) != CG_OK)
        return CG_ERR;
    current = mode;
    return CG_OK;
}
