#include "cert/reason.h"

#include <string.h>

#include "core/common.h"

struct reason_row {
    const char *slug, *code, *title, *user, *admin;
    int status, substatus;
};

#define CG_REASON_ROW(name, slug_, status_, sub_, title_, user_, admin_)                   \
    [CG_REASON_##name] = {.slug = slug_, .code = #status_ "." #sub_, .title = title_,      \
                          .user = user_, .admin = admin_, .status = status_, .substatus = sub_},
static const struct reason_row reason_rows[] = {CG_REASON_MAP(CG_REASON_ROW)};
#undef CG_REASON_ROW

static const struct reason_row *row(cg_reason_t r)
{
    if ((unsigned)r >= CG_REASON__COUNT)
        r = CG_REASON_INVALID;
    return &reason_rows[r];
}

const char *cg_reason_slug(cg_reason_t r) { return row(r)->slug; }
int cg_reason_status(cg_reason_t r) { return row(r)->status; }
int cg_reason_substatus(cg_reason_t r) { return row(r)->substatus; }
const char *cg_reason_title(cg_reason_t r) { return row(r)->title; }
const char *cg_reason_user_text(cg_reason_t r) { return row(r)->user; }
const char *cg_reason_admin_text(cg_reason_t r) { return row(r)->admin; }

const char *cg_reason_code(cg_reason_t r)
{
    /* "200.0" reads oddly; a success is just "200". */
    return r == CG_REASON_OK ? "200" : row(r)->code;
}

int cg_reason_from_slug(const char *slug, cg_reason_t *out)
{
    for (size_t i = 0; i < CG_ARRAY_LEN(reason_rows); i++) {
        if (strcmp(reason_rows[i].slug, slug) == 0) {
            *out = (cg_reason_t)i;
            return CG_OK;
        }
    }
    return CG_ERR;
}

int cg_reason_rank(cg_reason_t r)
{
    switch (row(r)->substatus) {
    case 0:  return 0;
    case 17: return 1;
    case 16: return 2;
    case 12: return 3;
    case 13: return 4;
    default: return 5;   /* 403.4 / 403.7: nothing else can be judged */
    }
}
