/*
 * demo.h: `certgate serve` with no configuration: the built-in demo.
 *
 * In a state directory (created on the first run, reused after), it writes
 * the demo PKI (cg_pki_demo_ex: regenerated only when missing, partial or
 * expired), a small document root (www/) and the configuration it serves
 * (certgate.yaml, meant to be read and copied). It serves that file:
 * https on 127.0.0.1 (and [::1] when the host has IPv6) with `/` showing the
 * certificate-info page and `/secure` requiring a certificate, http on the
 * same addresses. Once listening it prints, for each demo client
 * certificate, the curl command to run and the answer to expect, with the
 * ports actually bound.
 */
#ifndef CG_CLI_DEMO_H
#define CG_CLI_DEMO_H

#define CG_DEMO_DEFAULT_STATE_DIR "certgate-demo"
#define CG_DEMO_DEFAULT_HTTPS_PORT 8443
#define CG_DEMO_DEFAULT_HTTP_PORT 8080

struct cg_demo_opts {
    const char *state_dir;     /* NULL: ./certgate-demo */
    long https_port;           /* 0: a free port */
    long http_port;            /* 0: a free port */
    const char *ready_file;    /* as `serve --ready-file`; written after the commands are
                                  printed, so a reader of stdout finds them complete */
};

/* Runs the demo until SIGTERM/SIGINT; returns the process exit status
 * (0 clean stop, 1 could not serve, 2 could not prepare). */
int cg_demo_serve(const struct cg_demo_opts *o);

#endif
