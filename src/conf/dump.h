/*
 * dump.h: the merged snapshot as JSON (`certgate config check --print`,
 * and an admin endpoint later). Keys are the config file's keys, values the
 * effective ones after merging, so the output loads back as a config.
 */
#ifndef CG_CONF_DUMP_H
#define CG_CONF_DUMP_H

#include <jansson.h>

#include "conf/config.h"

/* A new JSON object (the caller json_decref()s it); NULL on allocation failure. */
json_t *cg_conf_to_json(const struct cg_conf *c);

#endif
