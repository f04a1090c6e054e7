/* ytree.c: libyaml events -> a bounded tree of positioned nodes. */
#include "conf/ytree.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "conf/config.h"
#include "core/common.h"

struct builder {
    const char *name;
    char **err;
    struct cg_ynode *root;
    struct cg_ynode *stack[CG_CONF_MAX_DEPTH];
    size_t depth;
    size_t nodes;
};

void cg_ytree_free(struct cg_ynode *n)
{
    if (n == NULL)
        return;
    for (size_t i = 0; i < n->n; i++)
        cg_ytree_free(n->items[i]);
    free(n->items);
    free(n->text);
    free(n);
}

/* libyaml marks are 0-based; people count from 1. */
static int at_err(struct builder *b, yaml_mark_t m, const char *what, const char *detail)
{
    return cg_set_err(b->err, "%s:%zu:%zu: %s%s", b->name, m.line + 1, m.column + 1, what,
                      detail != NULL ? detail : "");
}

static int add_child(struct builder *b, struct cg_ynode *child)
{
    struct cg_ynode *parent;

    if (b->depth == 0) {
        b->root = child;
        return CG_OK;
    }
    parent = b->stack[b->depth - 1];
    if (parent->n == parent->cap) {
        size_t cap = parent->cap != 0 ? parent->cap * 2 : 8;
        struct cg_ynode **items = realloc(parent->items, cap * sizeof(*items));
        if (items == NULL)
            return CG_ERR;
        parent->items = items;
        parent->cap = cap;
    }
    parent->items[parent->n++] = child;
    return CG_OK;
}

/* Creates a node for the event, refusing anchors/tags and enforcing bounds. */
static int on_node(struct builder *b, const yaml_event_t *ev, cg_ykind_t kind)
{
    const yaml_char_t *anchor = NULL, *tag = NULL;
    struct cg_ynode *node = NULL;
    char detail[96];

    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        anchor = ev->data.scalar.anchor;
        tag = ev->data.scalar.tag;
        break;
    case YAML_SEQUENCE_START_EVENT:
        anchor = ev->data.sequence_start.anchor;
        tag = ev->data.sequence_start.tag;
        break;
    default:
        anchor = ev->data.mapping_start.anchor;
        tag = ev->data.mapping_start.tag;
        break;
    }
    if (anchor != NULL) {
        snprintf(detail, sizeof(detail), " (&%.40s): write the value out in full",
                 (const char *)anchor);
        return at_err(b, ev->start_mark, "YAML anchors are not supported", detail);
    }
    if (tag != NULL) {
        snprintf(detail, sizeof(detail), " (%.40s): write the plain value", (const char *)tag);
        return at_err(b, ev->start_mark, "YAML tags are not supported", detail);
    }
    if (++b->nodes > CG_CONF_MAX_NODES)
        return at_err(b, ev->start_mark, "too many YAML nodes", " (the limit is 65536)");
    if (b->root != NULL && b->depth == 0)
        return at_err(b, ev->start_mark, "a second top-level value", NULL);

    node = calloc(1, sizeof(*node));
    if (node == NULL)
        return cg_set_err(b->err, "%s: out of memory", b->name);
    node->kind = kind;
    node->line = (unsigned)ev->start_mark.line + 1;
    node->col = (unsigned)ev->start_mark.column + 1;
    if (kind == CG_YSCALAR) {
        size_t len = ev->data.scalar.length;
        if (len > CG_CONF_MAX_SCALAR) {
            free(node);
            return at_err(b, ev->start_mark, "value too long", " (the limit is 8192 bytes)");
        }
        if (memchr(ev->data.scalar.value, '\0', len) != NULL) {
            free(node);
            return at_err(b, ev->start_mark, "NUL character in a value", NULL);
        }
        node->text = malloc(len + 1);
        if (node->text == NULL) {
            free(node);
            return cg_set_err(b->err, "%s: out of memory", b->name);
        }
        memcpy(node->text, ev->data.scalar.value, len);
        node->text[len] = '\0';
        node->len = len;
        node->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    }
    if (add_child(b, node) != CG_OK) {
        cg_ytree_free(node);
        return cg_set_err(b->err, "%s: out of memory", b->name);
    }
    if (kind != CG_YSCALAR) {
        if (b->depth == CG_CONF_MAX_DEPTH)
            return at_err(b, ev->start_mark, "nested too deeply", " (the limit is 32 levels)");
        b->stack[b->depth++] = node;
    }
    return CG_OK;
}

int cg_ytree_parse(const char *name, const char *buf, size_t len,
                   struct cg_ynode **root, char **err)
{
    yaml_parser_t parser;
    yaml_event_t ev;
    struct builder b = {.name = name, .err = err};
    int docs = 0, rc = CG_ERR;
    bool done = false;

    *root = NULL;
    if (len > CG_CONF_MAX_FILE_BYTES)
        return cg_set_err(err, "%s: file too large (%zu bytes; the limit is %d)", name, len,
                          CG_CONF_MAX_FILE_BYTES);
    if (!yaml_parser_initialize(&parser))
        return cg_set_err(err, "%s: out of memory", name);
    yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);

    while (!done) {
        char detail[256];
        if (!yaml_parser_parse(&parser, &ev)) {
            /* libyaml says what it was doing in `context` and what went
             * wrong in `problem`; the problem mark is the useful position. */
            snprintf(detail, sizeof(detail), "%s%s%s",
                     parser.problem != NULL ? parser.problem : "malformed input",
                     parser.context != NULL ? " " : "",
                     parser.context != NULL ? parser.context : "");
            at_err(&b, parser.problem_mark, "YAML syntax error: ", detail);
            goto cleanup;
        }
        int step = CG_OK;
        switch (ev.type) {
        case YAML_STREAM_END_EVENT:
            done = true;
            break;
        case YAML_DOCUMENT_START_EVENT:
            if (++docs > 1)
                step = at_err(&b, ev.start_mark, "a second YAML document",
                              " (one configuration per file)");
            break;
        case YAML_ALIAS_EVENT:
            snprintf(detail, sizeof(detail), " (*%.40s): write the value out in full",
                     (const char *)ev.data.alias.anchor);
            step = at_err(&b, ev.start_mark, "YAML aliases are not supported", detail);
            break;
        case YAML_SCALAR_EVENT:
            step = on_node(&b, &ev, CG_YSCALAR);
            break;
        case YAML_SEQUENCE_START_EVENT:
            step = on_node(&b, &ev, CG_YSEQ);
            break;
        case YAML_MAPPING_START_EVENT:
            step = on_node(&b, &ev, CG_YMAP);
            break;
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT:
            if (b.depth > 0)
                b.depth--;
            break;
        default:
            break;
        }
        yaml_event_delete(&ev);
        if (step != CG_OK)
            goto cleanup;
    }
    *root = b.root;
    b.root = NULL;
    rc = CG_OK;
cleanup:
    cg_ytree_free(b.root);
    yaml_parser_delete(&parser);
    return rc;
}

bool cg_ytree_is_null(const struct cg_ynode *n)
{
    return n != NULL && n->kind == CG_YSCALAR && !n->quoted &&
           (n->len == 0 || strcmp(n->text, "~") == 0 || strcmp(n->text, "null") == 0);
}

const char *cg_ytree_describe(const struct cg_ynode *n, char *buf, size_t size)
{
    if (n == NULL || cg_ytree_is_null(n))
        snprintf(buf, size, "nothing");
    else if (n->kind == CG_YMAP)
        snprintf(buf, size, "a mapping");
    else if (n->kind == CG_YSEQ)
        snprintf(buf, size, "a sequence");
    else if (n->len > 60)
        snprintf(buf, size, "'%.57s...'", n->text);
    else
        snprintf(buf, size, "'%s'", n->text);
    return buf;
}
