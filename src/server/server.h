/*
 * server.h: `certgate serve` as a library call.
 *
 * cg_server_run() binds every listener of the configuration, starts
 * conf->workers worker threads (each with its own epoll loop and its own
 * SO_REUSEPORT socket per listener), and turns the calling thread into the
 * control thread: it waits for signals and returns only at shutdown.
 *
 * Signals (blocked in every thread, read by the control thread):
 *   SIGHUP   reload: load the config again (or rebuild from the same
 *            snapshot when no path is known), build the new generation
 *            (SSL_CTXs, roots) to the side, and swap it on success; on
 *            failure log "reload: refused: ..." and keep serving. Logs
 *            "reload: generation N applied" once every worker uses it.
 *            New listen addresses are opened, removed ones closed; the
 *            number of workers and the log files change only on restart.
 *   SIGUSR1  reopen the error log and the access log (logrotate).
 *   SIGTERM, SIGINT  stop accepting, close idle connections, finish the
 *            requests in flight within limits.shutdown_timeout, flush the
 *            logs, return CG_OK.
 */
#ifndef CG_SERVER_SERVER_H
#define CG_SERVER_SERVER_H

#include "conf/config.h"

struct cg_server_opts {
    /* The config file, read again on SIGHUP; NULL: SIGHUP rebuilds from the
     * snapshot given (certificates and roots are reloaded from disk). */
    const char *config_path;
    /* Once every listener is bound, written (opened O_WRONLY: a FIFO works)
     * with one line per binding "<listen as written> <ip:port> <http|https>"
     * and a last line "ready <pid>". NULL: none. */
    const char *ready_file;
};

/*
 * Serves `conf` (the caller keeps its reference; the server takes its own)
 * until SIGTERM/SIGINT. CG_OK after a clean shutdown, CG_ERR with *err when
 * it could not start (a listener could not be bound, a certificate could
 * not be loaded, ...).
 */
int cg_server_run(struct cg_conf *conf, const struct cg_server_opts *opts, char **err);

#endif
