// One HTTP request through libcurl, loaded with dlopen at the first request (see curl_call.c).
#ifndef CSPOOLCURL_H
#define CSPOOLCURL_H
#include <stddef.h>

// What a request got. `headers` holds the header lines of the last response (after any
// redirects), each ending in CRLF; `body` at most `limit` bytes. Free with cspool_http_free.
typedef struct {
    long status;             // the HTTP status; 0 when no response came
    char *headers;           // NUL-terminated
    size_t headers_length;
    unsigned char *body;
    size_t body_length;
    int truncated;           // more than `limit` body bytes came; the transfer was stopped
    int curl_code;           // libcurl's CURLcode: 0 = done (also when truncated)
    char error[512];         // libcurl's message for curl_code, or why libcurl could not be loaded
} cspool_http_result;

// Performs one request and fills *out. `header_lines` are "Name: value". Returns 0 when libcurl
// ran the request (its outcome is in out->curl_code), -1 when libcurl could not be loaded
// (out->error says why).
int cspool_http_perform(const char *method, const char *url,
                        const char *const *header_lines, size_t header_count,
                        const void *body, size_t body_length, int has_body,
                        long timeout_ms, size_t limit, cspool_http_result *out);
void cspool_http_free(cspool_http_result *result);
#endif
