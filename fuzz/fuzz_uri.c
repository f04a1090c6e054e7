/*
 * fuzz_uri: path normalisation, Host, Accept and Range on arbitrary bytes.
 * A normalised path must come out clean and normalise to itself; a Host
 * must come out lower-case and valid again; a range must lie in the file.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/common.h"
#include "http/uri.h"

static void check_path(const char *in, size_t len)
{
    char *out = malloc(len + 1), *again = malloc(len + 1);
    size_t out_len, again_len;
    int status = 0;

    if (!out || !again)
        goto done;
    if (cg_http_path_normalize(in, len, out, len + 1, &out_len, &status, NULL) != CG_OK) {
        if (status != 400)
            abort();
        goto done;
    }
    if (out_len > len || out[0] != '/' || out[out_len] != '\0' || strlen(out) != out_len)
        abort();
    if (strstr(out, "//") || strstr(out, "/./") || strstr(out, "/../") || strchr(out, '\\'))
        abort();
    if ((out_len >= 2 && strcmp(out + out_len - 2, "/.") == 0) ||
        (out_len >= 3 && strcmp(out + out_len - 3, "/..") == 0))
        abort();
    for (size_t i = 0; i < out_len; i++)
        if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
            abort();
    if (!memchr(out, '%', out_len)) {
        if (cg_http_path_normalize(out, out_len, again, out_len + 1, &again_len, NULL, NULL) != CG_OK ||
            again_len != out_len || memcmp(again, out, out_len) != 0)
            abort();
    }
done:
    free(out);
    free(again);
}

static void check_host(const char *in, size_t len)
{
    char *out = malloc(len + 1), *again = malloc(len + 1);
    size_t out_len, again_len;
    int port;

    if (!out || !again)
        goto done;
    if (cg_http_host_normalize(in, len, out, len + 1, &out_len, &port) != CG_OK)
        goto done;
    if (out_len == 0 || out_len > len || port < -1 || port > 65535)
        abort();
    for (size_t i = 0; i < out_len; i++)
        if (out[i] >= 'A' && out[i] <= 'Z')
            abort();
    if (cg_http_host_normalize(out, out_len, again, out_len + 1, &again_len, &port) != CG_OK ||
        again_len != out_len || port != -1 || memcmp(again, out, out_len) != 0)
        abort();
done:
    free(out);
    free(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    static const uint64_t sizes[] = { 0, 1, 100, 1000, UINT64_MAX };

    check_path(in, size);
    check_host(in, size);
    (void)cg_http_prefers_json(in, size);
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        uint64_t first = 0, last = 0;
        int rc = cg_http_range_parse(in, size, sizes[i], &first, &last);
        if (rc == CG_OK && (first > last || last >= sizes[i]))
            abort();
        if (rc != CG_OK && rc != CG_ERR && rc != CG_DECLINED)
            abort();
    }
    return 0;
}
