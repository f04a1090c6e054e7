/*
 * ec_keydecode.c: decoding certificates' EC public keys without OpenSSL 3's
 * per-key decoder set-up, and without building a curve per key.
 *
 * Why: every full mutual-TLS handshake hands the server the client's leaf
 * and intermediate, and d2i_X509 decodes each one's public key. OpenSSL 3.0
 * does that through a provider decoder chain it builds anew for every key
 * (OSSL_DECODER_CTX_new_for_pkey), which costs more than the decoding and
 * more than the ECDSA verifications themselves (bench/README.md, "Where a
 * handshake goes"). OpenSSL still decodes a key through its older built-in
 * routines when an ENGINE offers a method for the key's type: x509_pubkey's
 * decoder tries that first. So this module registers an ENGINE that offers
 * OpenSSL's own built-in EC key method (a copy of it). The decoding is the
 * same code either way (OpenSSL's EC provider decodes a SubjectPublicKeyInfo
 * through the same built-in routines, point and curve checks included), and
 * signatures are verified by the same EC arithmetic, except that the
 * method's ECDSA verification hands P-256 signatures of keys that keep
 * coming back to their tables (verify_with_tables, ecdsa_tables.h); only
 * the decoder set-up and the provider bookkeeping around each key go. Keys of other types (RSA,
 * Ed25519, ...) are not touched. The price: each EC key decoded or used
 * looks its type up in OpenSSL's ENGINE table, under OpenSSL's global ENGINE
 * lock (a short critical section).
 *
 * The curve: OpenSSL's built-in decoder builds a new EC_GROUP for the curve
 * named by each key (its Montgomery constants included, a modular inverse
 * among them) and the key then keeps a copy of it: about 7% of a full
 * handshake's instructions for the two keys of a client chain (131 k
 * instructions per key, the copy 5 k). The ENGINE therefore
 * also offers its own copy of OpenSSL's EC ASN.1 method (which OpenSSL then
 * uses for the keys it decodes through the ENGINE), whose public-key half
 * is written here: the groups of P-256, P-384 and P-521 are built once at
 * registration, never changed after, and each key gets a copy of the shared
 * one (EC_KEY_set_group copies; a copy is a few allocations and memcpys).
 * Everything else is decided as OpenSSL's own routines decide it: explicit
 * parameters are decoded from their DER, other named curves are built per
 * key as before, unknown curves, points off the curve and truncated points
 * are refused by the same calls, and a key is encoded again with its curve
 * as given (name or parameters) and its point in the form it came in.
 * OpenSSL offers no way to reach its built-in public-key functions once a
 * method is copied, so all six (decode, encode, compare, print, size, bits)
 * are implemented here on public calls; the rest of the method (private
 * keys, parameters, checks, export to providers) stays OpenSSL's. Its
 * price: with an ASN.1 method in the ENGINE table, OpenSSL searches that
 * table by name whenever it makes a key from a provider (the TLS key
 * exchange's), about 10 k instructions per handshake.
 *
 * The ENGINE interface is deprecated in OpenSSL 3 but still shipped, and it
 * is the only public way to reach the built-in method:
 * OPENSSL_SUPPRESS_DEPRECATED is defined here and nowhere else, so the rest
 * of the code base keeps being warned about deprecated calls.
 */
#define OPENSSL_SUPPRESS_DEPRECATED
#include "cert/ec_keydecode.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/engine.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/objects.h>
#include <openssl/x509.h>

#include "cert/ecdsa_tables.h"
#include "core/common.h"

static cg_ec_key_decoding_t current = CG_EC_KEYS_PROVIDER;
/* The engine's methods, freed by OpenSSL with the engine. */
static EVP_PKEY_METHOD *ec_method;
static EVP_PKEY_ASN1_METHOD *ec_asn1_method;
static const int ec_nids[] = {NID_X9_62_id_ecPublicKey};

/* The curves whose group is shared: those of nearly every EC certificate.
 * Built by register_builtin() before the engine is registered (so before
 * any thread can decode), read-only until the engine is destroyed at
 * OpenSSL's cleanup (destroy_engine). Keys get copies (EC_GROUP_dup reads
 * its source only), so worker threads copy them at once without a lock. */
static const int shared_curves[] = {NID_X9_62_prime256v1, NID_secp384r1, NID_secp521r1};
static EC_GROUP *shared_groups[CG_ARRAY_LEN(shared_curves)];

const char *cg_ec_keydecode_name(cg_ec_key_decoding_t mode)
{
    return mode == CG_EC_KEYS_BUILTIN ? "builtin" : "provider";
}

cg_ec_key_decoding_t cg_ec_keydecode_current(void)
{
    return current;
}

/* ---- the public-key half of the EC ASN.1 method -------------------------- */

/* The EC key inside a legacy EVP_PKEY: the ASN.1 method is only ever called
 * with keys it decoded or was assigned (EVP_PKEY_assign_EC_KEY), never with
 * provider keys, so EVP_PKEY_get0 is the key itself, without the type
 * lookup EVP_PKEY_get0_EC_KEY would add to every call. */
static const EC_KEY *ec_of(const EVP_PKEY *pkey)
{
    return EVP_PKEY_get0(pkey);
}

static const EC_GROUP *shared_group(int nid)
{
    for (size_t i = 0; i < CG_ARRAY_LEN(shared_curves); i++)
        if (shared_curves[i] == nid)
            return shared_groups[i];
    return NULL;
}

/* Gives ec the named curve nid: a copy of the shared group, or for another
 * curve a group built for this key, as OpenSSL's own decoder does (which
 * also raises its error for a curve it does not know). 1 or 0. */
static int set_named_curve(EC_KEY *ec, int nid)
{
    const EC_GROUP *shared = shared_group(nid);
    EC_GROUP *built;
    int ok;

    if (shared != NULL)
        return EC_KEY_set_group(ec, shared);
    if ((built = EC_GROUP_new_by_curve_name(nid)) == NULL)
        return 0;
    EC_GROUP_set_asn1_flag(built, OPENSSL_EC_NAMED_CURVE);
    ok = EC_KEY_set_group(ec, built);
    EC_GROUP_free(built);
    return ok;
}

/* SubjectPublicKeyInfo -> key. The algorithm's parameters are a curve's
 * name (an OID) or its explicit parameters (DER); the key is the point,
 * decoded and checked to be on the curve by o2i_ECPublicKey, which also
 * records the point's form for encoding it again. The key lives in the
 * default library context: OpenSSL's own decoder takes the certificate's,
 * which no public call reads, and certgate parses every certificate in the
 * default one (d2i_X509). */
static int pub_decode(EVP_PKEY *pkey, const X509_PUBKEY *pub)
{
    const unsigned char *point;
    int point_len, ptype;
    const void *pval;
    X509_ALGOR *alg;
    EC_KEY *ec = NULL;
    int ok = 0;

    if (!X509_PUBKEY_get0_param(NULL, &point, &point_len, &alg, pub))
        return 0;
    X509_ALGOR_get0(NULL, &ptype, &pval, alg);
    if ((ec = EC_KEY_new()) == NULL) {
        ERR_raise(ERR_LIB_EC, ERR_R_MALLOC_FAILURE);
        goto done;
    }
    if (ptype == V_ASN1_OBJECT) {
        if (!set_named_curve(ec, OBJ_obj2nid(pval)))
            goto done;
    } else if (ptype == V_ASN1_SEQUENCE) {
        const unsigned char *der = ASN1_STRING_get0_data(pval);

        if (d2i_ECParameters(&ec, &der, ASN1_STRING_length(pval)) == NULL) {
            ERR_raise(ERR_LIB_EC, EC_R_DECODE_ERROR);
            goto done;
        }
    } else {
        ERR_raise(ERR_LIB_EC, EC_R_DECODE_ERROR);
        goto done;
    }
    if (o2i_ECPublicKey(&ec, &point, point_len) == NULL) {
        ERR_raise(ERR_LIB_EC, EC_R_DECODE_ERROR);
        goto done;
    }
    if (!EVP_PKEY_assign_EC_KEY(pkey, ec))
        goto done;
    ec = NULL;   /* pkey's now */
    ok = 1;
done:
    EC_KEY_free(ec);
    return ok;
}

/* The algorithm's parameters for ec: the curve's OID when its group is
 * flagged as named and has a name, its explicit parameters otherwise. */
static int curve_param(const EC_KEY *ec, int *ptype, void **pval)
{
    const EC_GROUP *group = EC_KEY_get0_group(ec);
    unsigned char *der = NULL;
    ASN1_STRING *str;
    int nid, len;

    if (group == NULL) {
        ERR_raise(ERR_LIB_EC, EC_R_MISSING_PARAMETERS);
        return 0;
    }
    if (EC_GROUP_get_asn1_flag(group) != 0 && (nid = EC_GROUP_get_curve_name(group)) != NID_undef) {
        ASN1_OBJECT *oid = OBJ_nid2obj(nid);

        if (oid == NULL || OBJ_length(oid) == 0) {
            ERR_raise(ERR_LIB_EC, EC_R_MISSING_OID);
            return 0;
        }
        *ptype = V_ASN1_OBJECT;
        *pval = oid;
        return 1;
    }
    if ((len = i2d_ECParameters(ec, &der)) <= 0) {
        ERR_raise(ERR_LIB_EC, ERR_R_EC_LIB);
        return 0;
    }
    if ((str = ASN1_STRING_new()) == NULL) {
        OPENSSL_free(der);
        return 0;
    }
    ASN1_STRING_set0(str, der, len);
    *ptype = V_ASN1_SEQUENCE;
    *pval = str;
    return 1;
}

/* Key -> SubjectPublicKeyInfo: the curve as curve_param says, the point in
 * the form the key holds (the form it was decoded in). */
static int pub_encode(X509_PUBKEY *pub, const EVP_PKEY *pkey)
{
    const EC_KEY *ec = ec_of(pkey);
    unsigned char *point = NULL, *p;
    int ptype = V_ASN1_UNDEF, point_len;
    void *pval = NULL;

    if (ec == NULL || !curve_param(ec, &ptype, &pval)) {
        ERR_raise(ERR_LIB_EC, ERR_R_EC_LIB);
        return 0;
    }
    if ((point_len = i2o_ECPublicKey(ec, NULL)) <= 0 ||
        (point = OPENSSL_malloc((size_t)point_len)) == NULL)
        goto fail;
    p = point;
    if ((point_len = i2o_ECPublicKey(ec, &p)) <= 0)
        goto fail;
    if (X509_PUBKEY_set0_param(pub, OBJ_nid2obj(EVP_PKEY_EC), ptype, pval, point, point_len))
        return 1;   /* pval and point are pub's now */
fail:
    if (ptype == V_ASN1_SEQUENCE)
        ASN1_STRING_free(pval);
    OPENSSL_free(point);
    return 0;
}

/* 1: the same point, 0: another, -2: cannot tell. The curves were compared
 * before (the method's parameter comparison, OpenSSL's). */
static int pub_cmp(const EVP_PKEY *a, const EVP_PKEY *b)
{
    const EC_KEY *ea = ec_of(a), *eb = ec_of(b);
    const EC_GROUP *group = eb != NULL ? EC_KEY_get0_group(eb) : NULL;
    const EC_POINT *pa = ea != NULL ? EC_KEY_get0_public_key(ea) : NULL;
    const EC_POINT *pb = eb != NULL ? EC_KEY_get0_public_key(eb) : NULL;

    if (group == NULL || pa == NULL || pb == NULL)
        return -2;
    switch (EC_POINT_cmp(group, pa, pb, NULL)) {
    case 0:
        return 1;
    case 1:
        return 0;
    default:
        return -2;
    }
}

/* The text OpenSSL prints for a public EC key: its size, the point as hex
 * bytes, then the curve; the private half, if any, is left out. */
static int pub_print(BIO *out, const EVP_PKEY *pkey, int indent, ASN1_PCTX *pctx)
{
    const EC_KEY *ec = ec_of(pkey);
    const EC_GROUP *group = ec != NULL ? EC_KEY_get0_group(ec) : NULL;
    unsigned char *point = NULL;
    size_t point_len = 0;
    int ok = 0;
    (void)pctx;

    if (group == NULL) {
        ERR_raise(ERR_LIB_EC, ERR_R_PASSED_NULL_PARAMETER);
        return 0;
    }
    if (EC_KEY_get0_public_key(ec) != NULL &&
        (point_len = EC_KEY_key2buf(ec, EC_KEY_get_conv_form(ec), &point, NULL)) == 0)
        goto done;
    if (!BIO_indent(out, indent, 128) ||
        BIO_printf(out, "Public-Key: (%d bit)\n", EC_GROUP_order_bits(group)) <= 0)
        goto done;
    if (point_len != 0 && (BIO_printf(out, "%*spub:\n", indent, "") <= 0 ||
                           !ASN1_buf_print(out, point, point_len, indent + 4)))
        goto done;
    ok = ECPKParameters_print(out, group, indent);
done:
    if (!ok)
        ERR_raise(ERR_LIB_EC, ERR_R_EC_LIB);
    OPENSSL_free(point);
    return ok;
}

/* The most bytes an ECDSA signature by the key takes. */
static int pkey_size(const EVP_PKEY *pkey)
{
    const EC_KEY *ec = ec_of(pkey);
    return ec != NULL ? ECDSA_size(ec) : 0;
}

/* The key's size: the bits of its curve's order. */
static int pkey_bits(const EVP_PKEY *pkey)
{
    const EC_KEY *ec = ec_of(pkey);
    const EC_GROUP *group = ec != NULL ? EC_KEY_get0_group(ec) : NULL;
    return group != NULL ? EC_GROUP_order_bits(group) : 0;
}

/* ---- the engine ------------------------------------------------------------ */

/* The ENGINE's pkey-method callback: the list of NIDs, or the method of one. */
static int pkey_methods(ENGINE *e, EVP_PKEY_METHOD **method, const int **nids, int nid)
{
    (void)e;
    if (method == NULL) {
        *nids = ec_nids;
        return (int)CG_ARRAY_LEN(ec_nids);
    }
    *method = nid == NID_X9_62_id_ecPublicKey ? ec_method : NULL;
    return *method != NULL;
}

/* The same for the ASN.1 method. */
static int asn1_methods(ENGINE *e, EVP_PKEY_ASN1_METHOD **method, const int **nids, int nid)
{
    (void)e;
    if (method == NULL) {
        *nids = ec_nids;
        return (int)CG_ARRAY_LEN(ec_nids);
    }
    *method = nid == NID_X9_62_id_ecPublicKey ? ec_asn1_method : NULL;
    return *method != NULL;
}

/* Called by OpenSSL when it frees the engine (at its cleanup, or when the
 * set-up fails): the methods go with the engine, the shared groups here. */
static int destroy_engine(ENGINE *e)
{
    (void)e;
    for (size_t i = 0; i < CG_ARRAY_LEN(shared_groups); i++) {
        EC_GROUP_free(shared_groups[i]);
        shared_groups[i] = NULL;
    }
    ec_method = NULL;
    ec_asn1_method = NULL;
    return 1;
}

/* The built-in method's verification, which verify_with_tables() falls
 * back on. Set by make_methods(), before the engine is registered. */
static int (*builtin_verify_init)(EVP_PKEY_CTX *ctx);
static int (*builtin_verify)(EVP_PKEY_CTX *ctx, const unsigned char *sig, size_t sig_len,
                             const unsigned char *tbs, size_t tbs_len);

/* ec's public point as 0x04 || x || y, when its curve is P-256. Decoded
 * keys hold their point with Z = 1, so its Jacobian coordinates are the
 * affine ones, read without the field inversion EC_POINT_point2oct costs
 * OpenSSL's P-256 code (about half a verification). */
static bool p256_point(const EC_KEY *ec, uint8_t out[CG_P256_POINT_BYTES])
{
    const EC_GROUP *group = EC_KEY_get0_group(ec);
    const EC_POINT *pub = EC_KEY_get0_public_key(ec);
    BIGNUM *x = NULL, *y = NULL, *z = NULL;
    bool ok = false;

    /* What this raises is not the verification's error; what the caller
     * queued before stays. */
    ERR_set_mark();
    if (group == NULL || pub == NULL || EC_GROUP_get_curve_name(group) != NID_X9_62_prime256v1)
        goto done;
    if ((x = BN_new()) == NULL || (y = BN_new()) == NULL || (z = BN_new()) == NULL)
        goto done;
    if (EC_POINT_get_Jprojective_coordinates_GFp(group, pub, x, y, z, NULL) && BN_is_one(z)) {
        out[0] = 0x04;
        ok = BN_bn2binpad(x, out + 1, 32) == 32 && BN_bn2binpad(y, out + 33, 32) == 32;
    } else {
        ok = EC_POINT_point2oct(group, pub, POINT_CONVERSION_UNCOMPRESSED, out, CG_P256_POINT_BYTES,
                                NULL) == CG_P256_POINT_BYTES;
    }
done:
    BN_free(x);
    BN_free(y);
    BN_free(z);
    ERR_pop_to_mark();
    return ok;
}

/* The engine's ECDSA verification: with this thread's table of the key
 * when it has one (ecdsa_tables.h), else the built-in method's. Only keys
 * of OpenSSL's own EC_KEY method qualify; one with another method (a
 * hardware key's) keeps it. */
static int verify_with_tables(EVP_PKEY_CTX *ctx, const unsigned char *sig, size_t sig_len,
                              const unsigned char *tbs, size_t tbs_len)
{
    const EC_KEY *ec = ec_of(EVP_PKEY_CTX_get0_pkey(ctx));
    uint8_t point[CG_P256_POINT_BYTES];

    if (ec != NULL && EC_KEY_get_method(ec) == EC_KEY_OpenSSL() && p256_point(ec, point)) {
        int rc = cg_ecdsa_tables_verify(point, tbs, tbs_len, sig, sig_len);

        if (rc >= 0)
            return rc;
    }
    return builtin_verify(ctx, sig, sig_len, tbs, tbs_len);
}

/* The shared groups, flagged as named as OpenSSL's decoder flags the groups
 * it builds, so that a key's curve is encoded again by its name. */
static int build_shared_groups(void)
{
    for (size_t i = 0; i < CG_ARRAY_LEN(shared_curves); i++) {
        if ((shared_groups[i] = EC_GROUP_new_by_curve_name(shared_curves[i])) == NULL)
            return CG_ERR;
        EC_GROUP_set_asn1_flag(shared_groups[i], OPENSSL_EC_NAMED_CURVE);
    }
    return CG_OK;
}

/* Copies of OpenSSL's built-in EC methods, the public-key functions of the
 * ASN.1 one replaced. CG_OK or CG_ERR (and nothing left allocated). */
static int make_methods(void)
{
    const EVP_PKEY_METHOD *builtin = EVP_PKEY_meth_find(EVP_PKEY_EC);
    const EVP_PKEY_ASN1_METHOD *builtin_asn1 = EVP_PKEY_asn1_find(NULL, EVP_PKEY_EC);

    if (builtin == NULL || builtin_asn1 == NULL)
        return CG_ERR;
    ec_method = EVP_PKEY_meth_new(EVP_PKEY_EC, 0);
    /* "EC", the built-in method's name: EVP_PKEY_get0_type_name() names
     * decoded keys with it, and OpenSSL looks methods up by it, so an EC key
     * made by its provider (a key file's) refers to the engine too, whose
     * pkey method it was already given by type. */
    ec_asn1_method = EVP_PKEY_asn1_new(EVP_PKEY_EC, 0, "EC",
                                       "OpenSSL EC algorithm, certgate's shared curves");
    if (ec_method == NULL || ec_asn1_method == NULL) {
        EVP_PKEY_meth_free(ec_method);
        EVP_PKEY_asn1_free(ec_asn1_method);
        ec_method = NULL;
        ec_asn1_method = NULL;
        return CG_ERR;
    }
    EVP_PKEY_meth_copy(ec_method, builtin);
    EVP_PKEY_meth_get_verify(builtin, &builtin_verify_init, &builtin_verify);
    if (builtin_verify != NULL)
        EVP_PKEY_meth_set_verify(ec_method, builtin_verify_init, verify_with_tables);
    EVP_PKEY_asn1_copy(ec_asn1_method, builtin_asn1);
    EVP_PKEY_asn1_set_public(ec_asn1_method, pub_decode, pub_encode, pub_cmp, pub_print,
                             pkey_size, pkey_bits);
    return CG_OK;
}

static int register_builtin(char **err)
{
    ENGINE *e = NULL;
    bool owned = false, added = false, initialised = false;
    int rc = CG_ERR;

    if (build_shared_groups() != CG_OK) {
        cg_set_err(err, "ec key decoding: OpenSSL cannot build the P-256/P-384/P-521 groups");
        goto done;
    }
    if (make_methods() != CG_OK) {
        cg_set_err(err, "ec key decoding: OpenSSL has no built-in EC key method");
        goto done;
    }
    if ((e = ENGINE_new()) == NULL) {
        cg_set_err(err, "ec key decoding: out of memory");
        goto done;
    }
    /* Once the engine names its methods and has its destroy function,
     * OpenSSL frees the methods and the groups with it. These three setters
     * only store the callback and always succeed. */
    ENGINE_set_pkey_meths(e, pkey_methods);
    ENGINE_set_pkey_asn1_meths(e, asn1_methods);
    ENGINE_set_destroy_function(e, destroy_engine);
    owned = true;
    if (!ENGINE_set_id(e, "certgate-ec") ||
        !ENGINE_set_name(e, "certgate: OpenSSL's built-in EC key methods") ||
        !(added = ENGINE_add(e))) {
        cg_set_err(err, "ec key decoding: cannot set up the EC engine");
        goto done;
    }
    if (!(initialised = ENGINE_init(e))) {
        cg_set_err(err, "ec key decoding: ENGINE_init failed");
        goto done;
    }
    /* The ASN.1 method first: once the pkey method is registered, OpenSSL
     * decodes EC keys through the engine, with whichever ASN.1 method it
     * finds then. */
    if (!ENGINE_register_pkey_asn1_meths(e) || !ENGINE_register_pkey_meths(e)) {
        cg_set_err(err, "ec key decoding: cannot register the EC key methods");
        goto done;
    }
    rc = CG_OK;
done:
    /* OpenSSL takes a functional reference of its own whenever it selects
     * the engine for a key; holding ours would keep the engine from being
     * freed at OpenSSL's cleanup. */
    if (initialised)
        ENGINE_finish(e);
    if (rc != CG_OK) {
        if (added) {
            ENGINE_unregister_pkey_meths(e);
            ENGINE_unregister_pkey_asn1_meths(e);
            ENGINE_remove(e);
        }
        ENGINE_free(e);   /* when owned, the methods and groups too (destroy_engine) */
        if (!owned) {
            EVP_PKEY_meth_free(ec_method);
            EVP_PKEY_asn1_free(ec_asn1_method);
            destroy_engine(NULL);
        }
        ERR_clear_error();
        return rc;
    }
    /* ENGINE_add's list keeps the engine, and so the methods and groups,
     * until OpenSSL's cleanup at exit. */
    ENGINE_free(e);
    return rc;
}

int cg_ec_keydecode_select(cg_ec_key_decoding_t mode, char **err)
{
    if (mode == current)
        return CG_OK;
    if (mode == CG_EC_KEYS_PROVIDER)
        return cg_set_err(err, "ec key decoding: cannot go back to provider decoding "
                               "once builtin was selected");
    if (register_builtin(err) != CG_OK)
        return CG_ERR;
    current = CG_EC_KEYS_BUILTIN;
    return CG_OK;
}
