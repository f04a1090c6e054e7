/*
 * demo_responder.h: the demo's revocation publisher. The demo intermediate's
 * client certificates name a CRL distribution point and an OCSP responder
 * on 127.0.0.1:CG_PKI_DEMO_REVOCATION_PORT (pki.h); while the demo runs,
 * this answers there:
 *
 *   GET  /.well-known/certgate/intermediate.crl   the intermediate's current
 *        CRL from stores/crl/ (DER, application/pkix-crl)
 *   POST /.well-known/certgate/ocsp               (body: the DER request), and
 *   GET  /.well-known/certgate/ocsp/<base64 request> (RFC 6960 A.1)
 *        an answer signed by the intermediate (cg_pki_ocsp_respond): revoked
 *        for the serials that CRL lists, with its dates and reasons; good
 *        for the others it issued; unknown for other issuers
 *
 * Both are read from the demo directory on every request, so a CRL imported
 * into stores/crl/ (`certgate pki crl`, `certgate store import`) is what
 * OCSP answers from at once.
 *
 * One thread, one connection at a time, each bounded (16 KiB in, 2 s to
 * send its request): a demo publisher on loopback, not a server. It never
 * runs on the server's loops; the server's fetcher reaches it over TCP like
 * any responder.
 */
#ifndef CG_CLI_DEMO_RESPONDER_H
#define CG_CLI_DEMO_RESPONDER_H

struct cg_demo_responder;

/* Binds 127.0.0.1:port and starts the thread. CG_OK with *out, or CG_ERR
 * with *err (the port taken, say: the demo then runs on its local CRLs). */
int cg_demo_responder_start(const char *demo_dir, unsigned port, struct cg_demo_responder **out,
                            char **err);
/* Stops the thread, closes the socket, frees. NULL-safe. */
void cg_demo_responder_stop(struct cg_demo_responder *r);

#endif
