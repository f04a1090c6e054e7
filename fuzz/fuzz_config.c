/*
 * fuzz_config.c: the config loader on arbitrary bytes. Every input either
 * loads into a snapshot whose lookups and JSON rendering work, or is refused
 * with a message; never a crash, a leak or an unbounded amount of work.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "conf/config.h"
#include "conf/dump.h"
#include "core/common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const hosts[] = {"localhost", "WWW.EXAMPLE.COM.", "a:8443", "[::1]:1", ""};
    static const char *const paths[] = {"/", "/secure", "/secure/x", "/securex", "/a/b/c"};
    struct cg_conf *c = NULL;
    char *err = NULL;

    if (cg_conf_load_mem_flags("fuzz.yaml", "/fuzz", (const char *)data, size,
                               CG_CONF_NO_FILE_CHECKS, &c, &err) != CG_OK) {
        if (err == NULL || strncmp(err, "fuzz.yaml", 9) != 0)
            abort();   /* every refusal names the file */
        free(err);
        return 0;
    }
    for (size_t s = 0; s < c->n_sites; s++) {
        const struct cg_conf_site *site = &c->sites[s];
        for (size_t b = 0; b < site->n_bindings; b++) {
            for (size_t h = 0; h < sizeof(hosts) / sizeof(hosts[0]); h++) {
                const struct cg_conf_site *found =
                    cg_conf_find_site(c, &site->bindings[b], hosts[h], strlen(hosts[h]));
                if (found != NULL && (found < c->sites || found >= c->sites + c->n_sites))
                    abort();
            }
            /* Every site is found on each of its addresses by its own names. */
            for (size_t h = 0; h < site->n_hostnames; h++) {
                if (cg_conf_find_site(c, &site->bindings[b], site->hostnames[h],
                                      strlen(site->hostnames[h])) != site)
                    abort();
            }
        }
        for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++)
            (void)cg_conf_find_location(site, paths[p], strlen(paths[p]));
        for (size_t l = 0; l < site->n_locations; l++) {
            if (cg_conf_find_location(site, site->locations[l].path, site->locations[l].path_len) !=
                &site->locations[l])
                abort();
        }
    }
    json_t *j = cg_conf_to_json(c);
    char *text = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    free(text);
    json_decref(j);
    cg_conf_unref(c);
    return 0;
}
