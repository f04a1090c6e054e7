/*
 * mime.c: Content-Type by file extension. A short list on purpose: what web
 * sites serve. Everything else is application/octet-stream, which browsers
 * download rather than render (safe for unknown content).
 */
#include "http/static.h"

#include <string.h>
#include <strings.h>

struct mime_row {
    const char *ext, *type;
};

static const struct mime_row mime_table[] = {
    { "html", "text/html; charset=utf-8" },
    { "htm", "text/html; charset=utf-8" },
    { "css", "text/css; charset=utf-8" },
    { "js", "text/javascript; charset=utf-8" },
    { "mjs", "text/javascript; charset=utf-8" },
    { "json", "application/json" },
    { "map", "application/json" },
    { "webmanifest", "application/manifest+json" },
    { "txt", "text/plain; charset=utf-8" },
    { "md", "text/markdown; charset=utf-8" },
    { "csv", "text/csv; charset=utf-8" },
    { "xml", "application/xml" },
    { "rss", "application/rss+xml" },
    { "atom", "application/atom+xml" },
    { "png", "image/png" },
    { "jpg", "image/jpeg" },
    { "jpeg", "image/jpeg" },
    { "gif", "image/gif" },
    { "webp", "image/webp" },
    { "avif", "image/avif" },
    { "svg", "image/svg+xml" },
    { "ico", "image/x-icon" },
    { "bmp", "image/bmp" },
    { "woff", "font/woff" },
    { "woff2", "font/woff2" },
    { "ttf", "font/ttf" },
    { "otf", "font/otf" },
    { "pdf", "application/pdf" },
    { "wasm", "application/wasm" },
    { "zip", "application/zip" },
    { "gz", "application/gzip" },
    { "tar", "application/x-tar" },
    { "mp4", "video/mp4" },
    { "webm", "video/webm" },
    { "mp3", "audio/mpeg" },
    { "ogg", "audio/ogg" },
    { "wav", "audio/wav" },
    { "pem", "application/x-pem-file" },
    { "crt", "application/x-x509-ca-cert" },
    { "cer", "application/pkix-cert" },
    { "crl", "application/pkix-crl" },
    { "p7b", "application/x-pkcs7-certificates" },
};

const char *cg_static_mime_type(const char *name, size_t len)
{
    size_t dot = len;

    for (size_t i = len; i-- > 0;) {
        if (name[i] == '/')
            break;
        if (name[i] == '.') {
            dot = i;
            break;
        }
    }
    if (dot < len) {
        const char *ext = name + dot + 1;
        size_t elen = len - dot - 1;
        for (size_t i = 0; i < CG_ARRAY_LEN(mime_table); i++)
            if (strlen(mime_table[i].ext) == elen &&
                strncasecmp(mime_table[i].ext, ext, elen) == 0)
                return mime_table[i].type;
    }
    return "application/octet-stream";
}
