/*
 * json_text.h: JSON strings from bytes that may not be UTF-8, for the
 * server's JSON bodies (problem+json, the certificate-info page).
 *
 * Subjects come from hostile certificates and details may quote a request
 * path; jansson refuses a string that is not UTF-8, which would make the
 * whole member (or body) vanish. Here invalid bytes become U+FFFD instead.
 */
#ifndef CG_HTTP_JSON_TEXT_H
#define CG_HTTP_JSON_TEXT_H

#include <jansson.h>

/* A new JSON string of s, repaired where it is not UTF-8; JSON null for
 * NULL; NULL only when out of memory. */
json_t *cg_json_text_new(const char *s);

#endif
