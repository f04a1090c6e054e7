/*
 * ec_keydecode: the verdict engine gives the same verdict whether EC keys
 * are decoded by OpenSSL's provider decoders or by its built-in routines.
 *
 * Certificates with well-formed and malformed keys are issued once, as DER,
 * in provider mode (the process starts there); each case is judged from a
 * fresh parse of that DER, then the process switches to builtin (which it
 * can do only once) and judges fresh parses again. The whole verdict, as
 * the JSON the server and `certgate verify` print, must be the same, and
 * well-formed keys must be accepted. Each key is tried as the leaf's and as
 * the intermediate's:
 *
 *   explicit curve parameters, a compressed point, P-384, P-521, RSA and
 *   Ed25519 (not EC: untouched), a point off the curve, a truncated point,
 *   a curve OpenSSL does not know, a hybrid point, a compressed P-521
 *   point, secp256k1 (a named curve whose group is not shared).
 *
 * The keys themselves must be the same through the EVP interface: decoded
 * or refused alike, encoded again to the same SubjectPublicKeyInfo bytes,
 * equal across modes (EVP_PKEY_eq), the same bits, size and security bits,
 * the same printed text, and they verify the signatures they made. Then 4
 * threads decode at once (the curve groups are shared by the process).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/core_names.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "cert/ec_keydecode.h"
#include "cert/pki.h"
#include "cert/verdict.h"
#include "cert/verdict_json.h"
#include "core/common.h"

#define DAY (24 * 3600)

typedef enum { KEY_OK, KEY_OFF_CURVE, KEY_TRUNCATED, KEY_UNKNOWN_CURVE } patch_t;

struct variant {
    const char *name;
    const char *alg, *group, *param, *value;   /* how to generate the key */
    patch_t patch;                             /* how to spoil it once issued */
    bool accepted;                             /* the verdict is ok (the rest: refused) */
};

static const struct variant variants[] = {
    {"ec-p256", "EC", "P-256", NULL, NULL, KEY_OK, true},
    /* Refused by the verdict engine (RFC 5480 allows named curves only). */
    {"ec-explicit-params", "EC", "P-256", OSSL_PKEY_PARAM_EC_ENCODING, "explicit", KEY_OK, false},
    {"ec-compressed-point", "EC", "P-256", OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
     "compressed", KEY_OK, true},
    {"ec-p384", "EC", "P-384", NULL, NULL, KEY_OK, true},
    {"ec-p521", "EC", "P-521", NULL, NULL, KEY_OK, true},
    {"rsa-2048", "RSA", NULL, NULL, NULL, KEY_OK, true},
    {"ed25519", "ED25519", NULL, NULL, NULL, KEY_OK, true},
    {"ec-point-off-curve", "EC", "P-256", NULL, NULL, KEY_OFF_CURVE, false},
    {"ec-truncated-point", "EC", "P-256", NULL, NULL, KEY_TRUNCATED, false},
    {"ec-unknown-curve", "EC", "P-256", NULL, NULL, KEY_UNKNOWN_CURVE, false},
    {"ec-hybrid-point", "EC", "P-256", OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT, "hybrid",
     KEY_OK, true},
    {"ec-p521-compressed-point", "EC", "P-521", OSSL_PKEY_PARAM_EC_POINT_CONVERSION_FORMAT,
     "compressed", KEY_OK, true},
    {"ec-secp256k1", "EC", "secp256k1", NULL, NULL, KEY_OK, true},
};
#define N_VARIANTS CG_ARRAY_LEN(variants)
#define N_CASES (2 * N_VARIANTS)   /* [2i]: the key as the leaf's, [2i+1]: as the CA's */

/* One case: leaf and intermediate as DER, issued in provider mode. */
struct der {
    unsigned char *p;
    int len;
};
/* A key as the EVP interface shows it, in one mode. */
struct keyfacts {
    bool decoded;
    struct der spki;   /* i2d_PUBKEY: the key encoded again */
    int bits, size, security_bits;
    char *text;        /* EVP_PKEY_print_public */
    int verifies;      /* X509_verify of the certificate the key signed */
};
struct kcase {
    const char *name;
    bool as_ca;
    bool well_formed, accepted;
    struct der leaf, inter;
    char *provider_json;   /* the verdict in provider mode */
    struct keyfacts provider_facts;
    EVP_PKEY *provider_key;   /* the case's key, decoded in provider mode */
};

static struct {
    time_t now;
    struct der root;
    struct kcase cases[N_CASES];
} K;

static EVP_PKEY *keygen(const struct variant *v)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, v->alg, NULL);
    EVP_PKEY *key = NULL;
    OSSL_PARAM params[4];
    size_t n = 0;

    if (ctx == NULL)
        return NULL;
    if (v->group != NULL)
        params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_PKEY_PARAM_GROUP_NAME,
                                                       (char *)v->group, 0);
    if (v->param != NULL)
        params[n++] = OSSL_PARAM_construct_utf8_string(v->param, (char *)v->value, 0);
    if (strcmp(v->alg, "RSA") == 0) {
        static unsigned bits = 2048;
        params[n++] = OSSL_PARAM_construct_uint(OSSL_PKEY_PARAM_RSA_BITS, &bits);
    }
    params[n] = OSSL_PARAM_construct_end();
    if (EVP_PKEY_keygen_init(ctx) <= 0 || EVP_PKEY_CTX_set_params(ctx, params) <= 0 ||
        EVP_PKEY_keygen(ctx, &key) <= 0)
        key = NULL;
    EVP_PKEY_CTX_free(ctx);
    return key;
}

static X509 *issue(cg_pki_profile_t profile, const char *cn, X509 *issuer, EVP_PKEY *issuer_key,
                   EVP_PKEY *key)
{
    struct cg_pki_spec spec = {0};
    char *err = NULL;
    X509 *x;

    spec.profile = profile;
    spec.subject_cn = cn;
    spec.not_before = K.now - 60 * DAY;
    spec.not_after = K.now + 365 * DAY;
    spec.path_len = -1;
    x = cg_pki_issue(&spec, key, issuer, issuer_key, &err);
    if (x == NULL)
        fail_msg("issue %s: %s", cn, err ? err : "?");
    free(err);
    return x;
}

/* Replaces x's (P-256) public key by a spoiled one and signs x again. */
static void spoil(X509 *x, patch_t patch, EVP_PKEY *issuer_key)
{
    X509_PUBKEY *pk = X509_get_X509_PUBKEY(x);
    const unsigned char *point;
    int point_len;
    unsigned char *bytes;
    ASN1_OBJECT *curve;

    assert_int_equal(X509_PUBKEY_get0_param(NULL, &point, &point_len, NULL, pk), 1);
    assert_int_equal(point_len, 65);   /* 04 || X || Y */
    bytes = OPENSSL_memdup(point, (size_t)point_len);
    assert_non_null(bytes);
    if (patch == KEY_OFF_CURVE)
        bytes[64] ^= 0x01;   /* Y + or - 1: no longer a point of the curve */
    if (patch == KEY_TRUNCATED)
        point_len -= 1;
    curve = patch == KEY_UNKNOWN_CURVE ? OBJ_txt2obj("1.3.6.1.4.1.55555.1.1", 1)
                                       : OBJ_nid2obj(NID_X9_62_prime256v1);
    assert_non_null(curve);
    assert_int_equal(X509_PUBKEY_set0_param(pk, OBJ_nid2obj(NID_X9_62_id_ecPublicKey),
                                            V_ASN1_OBJECT, curve, bytes, point_len),
                     1);
    assert_true(X509_sign(x, issuer_key, EVP_sha256()) > 0);
}

static struct der der_of(X509 *x)
{
    struct der d = {NULL, 0};
    d.len = i2d_X509(x, &d.p);
    assert_true(d.len > 0);
    return d;
}

static X509 *parse(const struct der *d)
{
    const unsigned char *p = d->p;
    X509 *x = d2i_X509(NULL, &p, d->len);
    assert_non_null(x);
    return x;
}

static int setup(void **state)
{
    EVP_PKEY *root_key = NULL, *inter_key = NULL, *leaf_key = NULL;
    X509 *root = NULL, *inter = NULL;
    char *err = NULL;
    (void)state;

    /* Everything here is made before builtin decoding is selected. */
    if (cg_ec_keydecode_current() != CG_EC_KEYS_PROVIDER)
        return -1;
    memset(&K, 0, sizeof(K));
    K.now = time(NULL);
    root_key = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    inter_key = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    leaf_key = cg_pki_keygen(CG_PKI_KEY_EC_P256, &err);
    if (root_key == NULL || inter_key == NULL || leaf_key == NULL)
        return -1;
    root = issue(CG_PKI_ROOT_CA, "Keys Root", NULL, root_key, root_key);
    inter = issue(CG_PKI_INTERMEDIATE_CA, "Keys Intermediate", root, root_key, inter_key);
    K.root = der_of(root);
    for (size_t i = 0; i < N_VARIANTS; i++) {
        const struct variant *v = &variants[i];
        EVP_PKEY *key = keygen(v);
        struct kcase *as_leaf = &K.cases[2 * i], *as_ca = &K.cases[2 * i + 1];
        X509 *leaf, *ca, *ca_leaf;

        if (key == NULL)
            fail_msg("keygen %s", v->name);
        /* The key as the leaf's, issued by the (P-256) intermediate. */
        leaf = issue(CG_PKI_CLIENT, v->name, inter, inter_key, key);
        if (v->patch != KEY_OK)
            spoil(leaf, v->patch, inter_key);
        *as_leaf = (struct kcase){.name = v->name, .well_formed = v->patch == KEY_OK,
                                  .accepted = v->accepted, .leaf = der_of(leaf),
                                  .inter = der_of(inter)};
        /* The key as an intermediate's, which issues a P-256 leaf. */
        ca = issue(CG_PKI_INTERMEDIATE_CA, v->name, root, root_key, key);
        if (strcmp(v->alg, "ED25519") == 0) {
            /* The pki module signs with a digest, Ed25519 takes none: the
             * leaf is issued by the intermediate, then renamed and signed
             * again by the Ed25519 CA (without the authority key id, which
             * names the intermediate's key). */
            ca_leaf = issue(CG_PKI_CLIENT, "Keys Leaf", inter, inter_key, leaf_key);
            assert_int_equal(X509_set_issuer_name(ca_leaf, X509_get_subject_name(ca)), 1);
            X509_EXTENSION_free(X509_delete_ext(
                ca_leaf, X509_get_ext_by_NID(ca_leaf, NID_authority_key_identifier, -1)));
            assert_true(X509_sign(ca_leaf, key, NULL) > 0);
        } else {
            ca_leaf = issue(CG_PKI_CLIENT, "Keys Leaf", ca, key, leaf_key);
        }
        if (v->patch != KEY_OK)
            spoil(ca, v->patch, root_key);
        *as_ca = (struct kcase){.name = v->name, .as_ca = true,
                                .well_formed = v->patch == KEY_OK, .accepted = v->accepted,
                                .leaf = der_of(ca_leaf), .inter = der_of(ca)};
        X509_free(leaf);
        X509_free(ca);
        X509_free(ca_leaf);
        EVP_PKEY_free(key);
    }
    X509_free(root);
    X509_free(inter);
    EVP_PKEY_free(root_key);
    EVP_PKEY_free(inter_key);
    EVP_PKEY_free(leaf_key);
    free(err);
    return 0;
}

static void keyfacts_free(struct keyfacts *f)
{
    OPENSSL_free(f->spki.p);
    OPENSSL_free(f->text);
    memset(f, 0, sizeof(*f));
}

static int teardown(void **state)
{
    (void)state;
    OPENSSL_free(K.root.p);
    for (size_t i = 0; i < N_CASES; i++) {
        OPENSSL_free(K.cases[i].leaf.p);
        OPENSSL_free(K.cases[i].inter.p);
        free(K.cases[i].provider_json);
        keyfacts_free(&K.cases[i].provider_facts);
        EVP_PKEY_free(K.cases[i].provider_key);
    }
    return 0;
}

/* Judges case c from fresh parses; the verdict as sorted JSON text. */
static char *judge(const struct kcase *c, struct cg_verdict *v)
{
    struct cg_trust *trust = cg_trust_new();
    X509 *root = parse(&K.root), *leaf = parse(&c->leaf), *inter = parse(&c->inter);
    STACK_OF(X509) *chain = sk_X509_new_null();
    struct cg_policy policy;
    json_t *j;
    char *text;

    assert_non_null(trust);
    assert_non_null(chain);
    assert_int_equal(cg_trust_add_root(trust, root), CG_OK);
    assert_true(sk_X509_push(chain, inter) > 0);
    cg_policy_init(&policy);
    assert_int_equal(cg_verdict_judge(leaf, chain, trust, K.now, &policy, v), CG_OK);
    j = cg_verdict_to_json(v);
    assert_non_null(j);
    text = json_dumps(j, JSON_SORT_KEYS | JSON_COMPACT);
    assert_non_null(text);
    json_decref(j);
    sk_X509_pop_free(chain, X509_free);
    X509_free(leaf);
    X509_free(root);
    cg_trust_unref(trust);
    return text;
}

/* True when x's public key is held by OpenSSL's built-in routines (no
 * provider behind it): what builtin decoding gives an EC key. */
static bool key_is_builtin(X509 *x)
{
    EVP_PKEY *key = X509_get0_pubkey(x);   /* NULL: the key does not decode */
    const char *d = key != NULL ? EVP_PKEY_get0_description(key) : NULL;
    return d != NULL && strstr(d, "algorithm") != NULL;   /* "OpenSSL EC algorithm" */
}

/* The certificate holding case c's key (the variant's), and the one that
 * key's certificate signature is checked on: as the CA's, the leaf it
 * issued; as the leaf's, the leaf itself, signed by the (P-256)
 * intermediate, whose key then does the verifying. */
static const struct der *key_cert(const struct kcase *c)
{
    return c->as_ca ? &c->inter : &c->leaf;
}

/* What the EVP interface shows of key (NULL: it did not decode), and
 * whether `verifier` verifies signed_cert's signature. */
static void keyfacts_of(EVP_PKEY *key, X509 *signed_cert, EVP_PKEY *verifier,
                        struct keyfacts *f)
{
    BIO *text;
    char *p;
    long len;

    memset(f, 0, sizeof(*f));
    f->verifies = verifier != NULL ? X509_verify(signed_cert, verifier) : -1;
    ERR_clear_error();
    if (key == NULL)
        return;
    f->decoded = true;
    f->spki.len = i2d_PUBKEY(key, &f->spki.p);
    assert_true(f->spki.len > 0);
    f->bits = EVP_PKEY_get_bits(key);
    f->size = EVP_PKEY_get_size(key);
    f->security_bits = EVP_PKEY_get_security_bits(key);
    text = BIO_new(BIO_s_mem());
    assert_non_null(text);
    assert_int_equal(EVP_PKEY_print_public(text, key, 0, NULL), 1);
    len = BIO_get_mem_data(text, &p);
    assert_true(len > 0);
    f->text = OPENSSL_strndup(p, (size_t)len);
    assert_non_null(f->text);
    BIO_free(text);
}

/* Case c's key decoded from a fresh parse, its facts in *f; the key (a
 * reference of its own, NULL when it does not decode) is returned. */
static EVP_PKEY *case_keyfacts(const struct kcase *c, struct keyfacts *f)
{
    X509 *holder = parse(key_cert(c)), *leaf = parse(&c->leaf), *inter = parse(&c->inter);
    EVP_PKEY *key = X509_get_pubkey(holder);   /* NULL: it does not decode */

    ERR_clear_error();
    keyfacts_of(key, leaf, X509_get0_pubkey(inter), f);
    X509_free(holder);
    X509_free(leaf);
    X509_free(inter);
    return key;
}

static void check_same_facts(const struct kcase *c, const struct keyfacts *p,
                             const struct keyfacts *b)
{
    const char *as = c->as_ca ? "CA" : "leaf";

    if (p->decoded != b->decoded)
        fail_msg("%s as %s: provider %s the key, builtin %s it", c->name, as,
                 p->decoded ? "decodes" : "refuses", b->decoded ? "decodes" : "refuses");
    if (p->verifies != b->verifies)
        fail_msg("%s as %s: X509_verify %d (provider) against %d (builtin)", c->name, as,
                 p->verifies, b->verifies);
    if (!p->decoded)
        return;
    if (p->spki.len != b->spki.len || memcmp(p->spki.p, b->spki.p, (size_t)p->spki.len) != 0)
        fail_msg("%s as %s: the key encodes to other bytes (%d against %d)", c->name, as,
                 p->spki.len, b->spki.len);
    if (p->bits != b->bits || p->size != b->size || p->security_bits != b->security_bits)
        fail_msg("%s as %s: bits/size/security bits %d/%d/%d (provider) against %d/%d/%d",
                 c->name, as, p->bits, p->size, p->security_bits, b->bits, b->size,
                 b->security_bits);
    if (strcmp(p->text, b->text) != 0)
        fail_msg("%s as %s: printed differently\nprovider:\n%s\nbuiltin:\n%s", c->name, as,
                 p->text, b->text);
}

static void check_outcome(const struct kcase *c, const struct cg_verdict *v)
{
    if (c->accepted != (v->reason == CG_REASON_OK))
        fail_msg("%s as %s: %s (%s)", c->name, c->as_ca ? "CA" : "leaf",
                 cg_reason_slug(v->reason), v->detail ? v->detail : "");
    if (!c->well_formed && c->as_ca && v->reason == CG_REASON_OK)
        fail_msg("%s as CA: accepted, its key cannot have verified the leaf", c->name);
}

static void test_provider(void **state)
{
    (void)state;
    for (size_t i = 0; i < N_CASES; i++) {
        struct kcase *c = &K.cases[i];
        struct cg_verdict v = {0};
        X509 *leaf = parse(&c->leaf);

        assert_false(key_is_builtin(leaf));
        X509_free(leaf);
        c->provider_key = case_keyfacts(c, &c->provider_facts);
        if (c->provider_facts.decoded != c->well_formed)
            fail_msg("%s as %s: a %s key %s", c->name, c->as_ca ? "CA" : "leaf",
                     c->well_formed ? "well-formed" : "malformed",
                     c->provider_facts.decoded ? "decodes" : "does not decode");
        if (c->well_formed && c->provider_facts.verifies != 1)
            fail_msg("%s as %s: the signature does not verify", c->name, c->as_ca ? "CA" : "leaf");
        c->provider_json = judge(c, &v);
        check_outcome(c, &v);
        cg_verdict_free(&v);
    }
}

static void test_builtin_same_verdicts(void **state)
{
    char *err = NULL;
    X509 *x;
    (void)state;

    assert_int_equal(cg_ec_keydecode_select(CG_EC_KEYS_BUILTIN, &err), CG_OK);
    assert_int_equal(cg_ec_keydecode_select(CG_EC_KEYS_BUILTIN, &err), CG_OK);   /* no-op */
    assert_int_equal(cg_ec_keydecode_current(), CG_EC_KEYS_BUILTIN);
    /* There is no way back within the process. */
    assert_int_equal(cg_ec_keydecode_select(CG_EC_KEYS_PROVIDER, &err), CG_ERR);
    assert_non_null(err);
    free(err);
    /* The mechanism is in force for EC keys, and only for them. */
    x = parse(&K.root);
    assert_true(key_is_builtin(x));
    X509_free(x);
    for (size_t i = 0; i < N_CASES; i++) {
        struct kcase *c = &K.cases[i];
        struct cg_verdict v = {0};
        char *json;

        assert_non_null(c->provider_json);
        json = judge(c, &v);
        if (strcmp(json, c->provider_json) != 0)
            fail_msg("%s as %s: verdicts differ\nprovider: %s\nbuiltin:  %s", c->name,
                     c->as_ca ? "CA" : "leaf", c->provider_json, json);
        check_outcome(c, &v);
        free(json);
        cg_verdict_free(&v);
    }
    x = parse(&K.cases[2 * 5].leaf);   /* rsa-2048 as the leaf's key */
    assert_false(key_is_builtin(x));
    X509_free(x);
    x = parse(&K.cases[2 * 6].leaf);   /* ed25519 */
    assert_false(key_is_builtin(x));
    X509_free(x);
}

/* True when key was decoded by the engine's copy of OpenSSL's EC ASN.1
 * method (shared curve groups), not by OpenSSL's own table or a provider. */
static bool key_has_engine_asn1(const EVP_PKEY *key)
{
    const EVP_PKEY_ASN1_METHOD *m = EVP_PKEY_get0_asn1(key);
    return m != NULL && m != EVP_PKEY_asn1_find(NULL, EVP_PKEY_EC);
}

static void test_builtin_same_keys(void **state)
{
    X509 *root = parse(&K.root);
    EVP_PKEY *root_key = X509_get0_pubkey(root);
    (void)state;

    assert_int_equal(cg_ec_keydecode_current(), CG_EC_KEYS_BUILTIN);
    assert_true(key_has_engine_asn1(root_key));
    for (size_t i = 0; i < N_CASES; i++) {
        struct kcase *c = &K.cases[i];
        const char *as = c->as_ca ? "CA" : "leaf";
        struct keyfacts f, again;
        EVP_PKEY *key = case_keyfacts(c, &f), *key2 = case_keyfacts(c, &again);
        bool ec = strncmp(c->name, "ec-", 3) == 0;

        check_same_facts(c, &c->provider_facts, &f);
        check_same_facts(c, &f, &again);
        if (key != NULL) {
            /* Only EC keys take the engine's method; RSA and Ed25519 stay
             * provider keys. */
            if (key_has_engine_asn1(key) != ec)
                fail_msg("%s as %s: decoded by the %s method", c->name, as,
                         ec ? "provider's" : "engine's");
            /* Equal across modes (a provider key against a legacy one), and
             * between two builtin decodings (the method's own compare). */
            if (EVP_PKEY_eq(c->provider_key, key) != 1 || EVP_PKEY_eq(key, c->provider_key) != 1)
                fail_msg("%s as %s: the builtin key is not the provider one", c->name, as);
            if (EVP_PKEY_eq(key, key2) != 1)
                fail_msg("%s as %s: two builtin decodings differ", c->name, as);
            /* And unequal to another key: P-256 keys compare their points,
             * other curves already differ in their parameters. */
            if (ec && EVP_PKEY_eq(key, root_key) == 1)
                fail_msg("%s as %s: equal to the root's key", c->name, as);
        }
        keyfacts_free(&f);
        keyfacts_free(&again);
        EVP_PKEY_free(key);
        EVP_PKEY_free(key2);
    }
    X509_free(root);
}

/* Threads decoding at once, as server workers do: every well-formed EC
 * key, again and again, must decode to its bytes and verify. */
#define DECODE_THREADS 4
#define DECODES_PER_THREAD 400

struct decoder {
    pthread_t thread;
    size_t first;   /* where in the cases this thread starts */
    int done, wrong;
};

static void *decode_many(void *arg)
{
    struct decoder *d = arg;
    size_t i = d->first;

    while (d->done < DECODES_PER_THREAD) {
        const struct kcase *c = &K.cases[i++ % N_CASES];
        const struct der *der = key_cert(c);
        const unsigned char *p = der->p;
        X509 *holder, *leaf;
        EVP_PKEY *key;
        unsigned char *spki = NULL;
        int len;

        if (!c->well_formed || strncmp(c->name, "ec-", 3) != 0)
            continue;
        holder = d2i_X509(NULL, &p, der->len);
        p = c->leaf.p;
        leaf = d2i_X509(NULL, &p, c->leaf.len);
        key = holder != NULL ? X509_get0_pubkey(holder) : NULL;
        len = key != NULL ? i2d_PUBKEY(key, &spki) : -1;
        if (len != c->provider_facts.spki.len ||
            memcmp(spki, c->provider_facts.spki.p, (size_t)len) != 0 || !key_has_engine_asn1(key) ||
            (c->as_ca && (leaf == NULL || X509_verify(leaf, key) != 1)))
            d->wrong++;
        d->done++;
        OPENSSL_free(spki);
        X509_free(holder);
        X509_free(leaf);
    }
    return NULL;
}

static void test_builtin_threads(void **state)
{
    struct decoder d[DECODE_THREADS] = {0};
    (void)state;

    assert_int_equal(cg_ec_keydecode_current(), CG_EC_KEYS_BUILTIN);
    for (size_t t = 0; t < DECODE_THREADS; t++) {
        d[t].first = t * 3;
        assert_int_equal(pthread_create(&d[t].thread, NULL, decode_many, &d[t]), 0);
    }
    /* All joined before any check can end the test. */
    for (size_t t = 0; t < DECODE_THREADS; t++)
        assert_int_equal(pthread_join(d[t].thread, NULL), 0);
    for (size_t t = 0; t < DECODE_THREADS; t++) {
        assert_int_equal(d[t].done, DECODES_PER_THREAD);
        if (d[t].wrong != 0)
            fail_msg("thread %zu: %d of %d decodes wrong", t, d[t].wrong, d[t].done);
    }
}

int main(void)
{
    /* In this order: provider first, then the one-way switch to builtin. */
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_provider),
        cmocka_unit_test(test_builtin_same_verdicts),
        cmocka_unit_test(test_builtin_same_keys),
        cmocka_unit_test(test_builtin_threads),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
