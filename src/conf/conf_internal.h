/*
 * conf_internal.h: what the files of conf/ share and nobody else needs.
 */
#ifndef CG_CONF_INTERNAL_H
#define CG_CONF_INTERNAL_H

#include "conf/config.h"

/* One word of the config file and the enum value it stands for. Tables end
 * with a NULL name. The loader parses with them and the renderers print
 * with them, so the two never disagree. */
struct cg_conf_enum_name {
    const char *name;
    int value;
};

extern const struct cg_conf_enum_name cg_conf_client_cert_names[];
extern const struct cg_conf_enum_name cg_conf_ssl_names[];
extern const struct cg_conf_enum_name cg_conf_errors_names[];
extern const struct cg_conf_enum_name cg_conf_log_format_names[];
extern const struct cg_conf_enum_name cg_conf_log_level_names[];
extern const struct cg_conf_enum_name cg_conf_ca_list_names[];
extern const struct cg_conf_enum_name cg_conf_revocation_mode_names[];
extern const struct cg_conf_enum_name cg_conf_scope_names[];
extern const struct cg_conf_enum_name cg_conf_on_unknown_names[];
extern const struct cg_conf_enum_name cg_conf_purpose_names[];
extern const struct cg_conf_enum_name cg_conf_ec_key_decoding_names[];
extern const struct cg_conf_enum_name cg_conf_key_schedule_names[];
extern const struct cg_conf_enum_name cg_conf_key_exchange_names[];
extern const struct cg_conf_enum_name cg_conf_symlinks_names[];
extern const struct cg_conf_enum_name cg_conf_handler_names[];

/* The name of `value` in table t; "?" when absent. */
const char *cg_conf_enum_to_name(const struct cg_conf_enum_name *t, int value);

/* Frees a snapshot whatever its refcount (the loader's error path). */
void cg_conf_free(struct cg_conf *c);

#endif
