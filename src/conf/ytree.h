/*
 * ytree.h: a YAML document read into a small tree of nodes that keep their
 * positions, for the directive tables (conf/ only; not a public contract).
 *
 * The reader enforces the bounds of config.h (size, depth, nodes, scalar
 * length) and refuses what a config never needs and an attacker loves:
 * anchors and aliases (no billion laughs), explicit tags, several
 * documents, NUL bytes in values. Duplicate keys are left to the directive
 * walk, which knows the keys.
 */
#ifndef CG_CONF_YTREE_H
#define CG_CONF_YTREE_H

#include <stdbool.h>
#include <stddef.h>

typedef enum { CG_YSCALAR = 0, CG_YSEQ, CG_YMAP } cg_ykind_t;

struct cg_ynode {
    cg_ykind_t kind;
    unsigned line, col;           /* 1-based position of the node's start */
    char *text;                   /* scalar: NUL-terminated, no NUL inside */
    size_t len;
    bool quoted;                  /* scalar written in quotes or as a block */
    struct cg_ynode **items;      /* seq: the items; map: key, value, key, value... */
    size_t n;                     /* number of entries in items */
    size_t cap;
};

/*
 * Reads `buf` (len bytes, need not be NUL-terminated) into *root. An empty
 * document gives *root == NULL and CG_OK. On error, *err is
 * "NAME:LINE:COL: ..." and *root is NULL. Free with cg_ytree_free().
 */
int cg_ytree_parse(const char *name, const char *buf, size_t len,
                   struct cg_ynode **root, char **err);
void cg_ytree_free(struct cg_ynode *n);   /* NULL-safe */

/* True for a plain scalar meaning "no value": empty, "~" or "null". */
bool cg_ytree_is_null(const struct cg_ynode *n);
/* "a mapping", "a sequence", "nothing", "'text'" (quoted, truncated): for
 * "got ..." in messages. Writes into buf. */
const char *cg_ytree_describe(const struct cg_ynode *n, char *buf, size_t size);

#endif
