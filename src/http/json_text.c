/*
 * json_text.c: JSON strings repaired to UTF-8 (see json_text.h).
 */
#include "http/json_text.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

json_t *cg_json_text_new(const char *s)
{
    json_t *j;
    char *fixed;
    size_t n, o = 0;

    if (s == NULL)
        return json_null();
    j = json_string(s);
    if (j != NULL)
        return j;
    n = strlen(s);
    /* each byte grows at most to the three of U+FFFD */
    fixed = malloc(n * 3 + 1);
    if (fixed == NULL)
        return NULL;
    for (size_t i = 0; i < n;) {
        /* the lead byte says how long the sequence is; the rest must be
         * continuation bytes (10xxxxxx) */
        const unsigned char *u = (const unsigned char *)s + i;
        size_t need = u[0] < 0x80 ? 1 : (u[0] & 0xe0) == 0xc0 ? 2 : (u[0] & 0xf0) == 0xe0 ? 3
                                     : (u[0] & 0xf8) == 0xf0 ? 4 : 0;
        bool ok = need > 0 && i + need <= n;

        for (size_t k = 1; ok && k < need; k++)
            ok = (u[k] & 0xc0) == 0x80;
        if (ok && need > 1) {
            char one[5] = {0};
            json_t *probe;
            memcpy(one, u, need);
            probe = json_string(one);   /* overlong forms and surrogates */
            ok = probe != NULL;
            json_decref(probe);
        }
        if (ok) {
            memcpy(fixed + o, u, need);
            o += need;
            i += need;
        } else {
            memcpy(fixed + o, "\xef\xbf\xbd", 3);
            o += 3;
            i++;
        }
    }
    fixed[o] = '\0';
    j = json_string(fixed);
    free(fixed);
    return j;
}
