/*
 * pki_ocsp_cmd.h: `certgate pki ocsp`, an OCSP answer from the command line
 * (for tests and for a CA that publishes pre-signed responses).
 */
#ifndef CG_CLI_PKI_OCSP_CMD_H
#define CG_CLI_PKI_OCSP_CMD_H

/* argv[0] is "ocsp". Exit status: 0 written, 1 failed, 2 usage or input error. */
int cg_cmd_pki_ocsp(int argc, char **argv);

#endif
