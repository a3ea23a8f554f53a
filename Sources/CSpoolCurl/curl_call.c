// HTTP for the `http` built-in, through libcurl loaded with dlopen at the first request, not
// linked. Linking FoundationNetworking (URLSession) brought libcurl and some thirty libraries it
// needs into every start of spoold and spoolctl: 19.5 ms per exec of `spoold --bogus`, 4.6 ms for
// the static binary without it (docs/design.md, "Start-up"). Only a daemon that runs an http
// operation pays for loading libcurl, once.
//
// No libcurl headers are needed to build (a fresh machine has the library, not its -dev
// package): the few option and info numbers used are libcurl's stable ABI, written out below.
// A request is one easy handle driven by curl_easy_perform on the calling thread (the daemon runs
// an http operation on a thread of its own), so nothing depends on libdispatch's thread pool.
// Redirects are followed here, not by libcurl, which keeps a method set with CUSTOMREQUEST on
// every hop: a 303 turns any method but HEAD into a bodyless GET, a 301 or 302 turns POST into
// one, and 307 and 308 keep the method and body, as browsers and URLSession do.
#define _GNU_SOURCE
#include "cspoolcurl.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

// libcurl's ABI (curl/curl.h): option = type base + number.
enum {
    OPT_WRITEDATA = 10001, OPT_URL = 10002, OPT_ERRORBUFFER = 10010, OPT_WRITEFUNCTION = 20011,
    OPT_POSTFIELDS = 10015, OPT_USERAGENT = 10018, OPT_HTTPHEADER = 10023, OPT_HEADERDATA = 10029,
    OPT_CUSTOMREQUEST = 10036, OPT_NOBODY = 44, OPT_HEADERFUNCTION = 20079, OPT_HTTPGET = 80,
    OPT_NOSIGNAL = 99, OPT_ACCEPT_ENCODING = 10102, OPT_TIMEOUT_MS = 155, OPT_PROTOCOLS = 181,
    OPT_POSTFIELDSIZE_LARGE = 30120, OPT_PROTOCOLS_STR = 10318,
};
enum { INFO_RESPONSE_CODE = 0x200002, INFO_REDIRECT_URL = 0x100000 + 31 };  // CURLINFO_LONG + 2, CURLINFO_STRING + 31
enum { PROTO_HTTP = 1, PROTO_HTTPS = 2, GLOBAL_ALL = 3, ERROR_SIZE = 512 };  // libcurl asks for at least 256
enum {
    CODE_UNSUPPORTED_PROTOCOL = 1, CODE_WRITE_ERROR = 23, CODE_OUT_OF_MEMORY = 27, CODE_TIMED_OUT = 28,
    CODE_TOO_MANY_REDIRECTS = 47,
};
enum { MAX_REDIRECTS = 16 };

struct slist;
typedef size_t (*write_cb)(char *, size_t, size_t, void *);

static struct {
    void *(*easy_init)(void);
    int (*easy_setopt)(void *, int, ...);
    int (*easy_perform)(void *);
    int (*easy_getinfo)(void *, int, ...);
    void (*easy_cleanup)(void *);
    const char *(*easy_strerror)(int);
    struct slist *(*slist_append)(struct slist *, const char *);
    void (*slist_free_all)(struct slist *);
    int (*global_init)(long);
} curl;
static char load_error[ERROR_SIZE];
static pthread_once_t load_once = PTHREAD_ONCE_INIT;

// Debian ships libcurl.so.4 (OpenSSL) and libcurl-gnutls.so.4; either will do. SPOOLD_LIBCURL,
// when set, names the one library to load instead (a libcurl outside the linker's path).
static void load(void) {
    static const char *const names[] = {"libcurl.so.4", "libcurl-gnutls.so.4", "libcurl.so"};
    const char *chosen = getenv("SPOOLD_LIBCURL");
    void *lib = NULL;
    if (chosen && *chosen) {
        lib = dlopen(chosen, RTLD_NOW | RTLD_LOCAL);
    } else {
        for (size_t i = 0; i < sizeof names / sizeof names[0] && !lib; i++) lib = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
    }
    if (!lib) {
        snprintf(load_error, sizeof load_error,
                 "libcurl is not installed (%s); the http operation needs it (Debian: apt-get install libcurl4)", dlerror());
        return;
    }
#define BIND(field, symbol) \
    if (!(*(void **)&curl.field = dlsym(lib, symbol))) { \
        snprintf(load_error, sizeof load_error, "libcurl lacks %s", symbol); \
        curl.easy_init = NULL; \
        return; \
    }
    BIND(easy_setopt, "curl_easy_setopt")
    BIND(easy_perform, "curl_easy_perform")
    BIND(easy_getinfo, "curl_easy_getinfo")
    BIND(easy_cleanup, "curl_easy_cleanup")
    BIND(easy_strerror, "curl_easy_strerror")
    BIND(slist_append, "curl_slist_append")
    BIND(slist_free_all, "curl_slist_free_all")
    BIND(global_init, "curl_global_init")
    BIND(easy_init, "curl_easy_init")
#undef BIND
    // Not thread-safe in older libcurl: once, here, before any handle exists.
    if (curl.global_init(GLOBAL_ALL) != 0) {
        snprintf(load_error, sizeof load_error, "libcurl failed to initialise");
        curl.easy_init = NULL;
    }
}

struct buffer {
    char *bytes;
    size_t length, capacity;
};

static int append(struct buffer *b, const char *bytes, size_t n) {
    if (b->length + n + 1 > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 1024;
        while (capacity < b->length + n + 1) capacity *= 2;
        char *grown = realloc(b->bytes, capacity);
        if (!grown) return -1;
        b->bytes = grown;
        b->capacity = capacity;
    }
    memcpy(b->bytes + b->length, bytes, n);
    b->length += n;
    b->bytes[b->length] = 0;
    return 0;
}

struct body_sink {
    struct buffer buffer;
    size_t limit;
    int truncated;
};

// Keeps at most `limit` bytes; past it, returning less than given stops the transfer
// (CURLE_WRITE_ERROR, which the caller reads as "truncated").
static size_t on_body(char *data, size_t size, size_t count, void *context) {
    struct body_sink *sink = context;
    size_t n = size * count;
    size_t room = sink->limit - sink->buffer.length;
    if (n > room) {
        if (room && append(&sink->buffer, data, room) != 0) return 0;
        sink->truncated = 1;
        return 0;
    }
    return append(&sink->buffer, data, n) == 0 ? n : 0;
}

// Header lines come here; each status line starts afresh (an interim "100 Continue" is dropped),
// so what is left is the final response's. A redirect's hop is a transfer of its own.
static size_t on_header(char *data, size_t size, size_t count, void *context) {
    struct buffer *headers = context;
    size_t n = size * count;
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0) headers->length = 0;
    return append(headers, data, n) == 0 ? n : 0;
}

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

// The method and body of one hop. GET is libcurl's default and HTTPGET goes back to it; POST is
// what POSTFIELDS makes; any other method is named with CUSTOMREQUEST. A method that may carry a
// body and has none sends an empty one (Content-Length: 0), as URLSession did.
static void set_method(void *h, const char *method, const void *body, size_t body_length, int has_body) {
    curl.easy_setopt(h, OPT_CUSTOMREQUEST, (char *)NULL);
    curl.easy_setopt(h, OPT_HTTPGET, 1L);
    if (strcmp(method, "HEAD") == 0) {
        curl.easy_setopt(h, OPT_NOBODY, 1L);
        return;
    }
    if (strcmp(method, "GET") == 0 && !has_body) return;
    curl.easy_setopt(h, OPT_POSTFIELDSIZE_LARGE, (long long)(has_body ? body_length : 0));
    curl.easy_setopt(h, OPT_POSTFIELDS, has_body && body_length ? body : "");
    if (strcmp(method, "POST") != 0) curl.easy_setopt(h, OPT_CUSTOMREQUEST, method);
}

static int is_redirect(long status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

int cspool_http_perform(const char *method, const char *url,
                        const char *const *header_lines, size_t header_count,
                        const void *body, size_t body_length, int has_body,
                        long timeout_ms, size_t limit, cspool_http_result *out) {
    memset(out, 0, sizeof *out);
    pthread_once(&load_once, load);
    if (!curl.easy_init) {
        snprintf(out->error, sizeof out->error, "%s", load_error);
        return -1;
    }
    void *h = curl.easy_init();
    if (!h) {
        snprintf(out->error, sizeof out->error, "libcurl could not make a handle");
        return -1;
    }
    struct slist *list = NULL;
    int listed = 1;
    for (size_t i = 0; i <= header_count && listed; i++) {
        // Last, "Expect:": libcurl would otherwise send "Expect: 100-continue" before a large body
        // and wait for the answer.
        struct slist *longer = curl.slist_append(list, i < header_count ? header_lines[i] : "Expect:");
        if (longer) list = longer; else listed = 0;
    }

    struct body_sink sink = {{NULL, 0, 0}, limit, 0};
    struct buffer headers = {NULL, 0, 0};
    curl.easy_setopt(h, OPT_NOSIGNAL, 1L);
    // Deprecated in libcurl 7.85 for the _STR form, which older ones lack: whichever this one takes.
    if (curl.easy_setopt(h, OPT_PROTOCOLS, (long)(PROTO_HTTP | PROTO_HTTPS)) != 0)
        curl.easy_setopt(h, OPT_PROTOCOLS_STR, "http,https");
    curl.easy_setopt(h, OPT_ACCEPT_ENCODING, "");  // every encoding this libcurl decodes
    curl.easy_setopt(h, OPT_USERAGENT, "spoold");
    curl.easy_setopt(h, OPT_HTTPHEADER, list);
    curl.easy_setopt(h, OPT_ERRORBUFFER, out->error);
    curl.easy_setopt(h, OPT_WRITEFUNCTION, (write_cb)on_body);
    curl.easy_setopt(h, OPT_WRITEDATA, &sink);
    curl.easy_setopt(h, OPT_HEADERFUNCTION, (write_cb)on_header);
    curl.easy_setopt(h, OPT_HEADERDATA, &headers);

    const double deadline = now_ms() + timeout_ms;
    char *next = NULL;  // a redirect's target, copied: libcurl's string lives until the next transfer
    const char *target = url;
    int code = 0, hops = 0;
    long status = 0;
    while (listed) {
        double left = deadline - now_ms();
        if (left < 1) {
            code = CODE_TIMED_OUT;
            snprintf(out->error, sizeof out->error, "Operation timed out after %ld milliseconds", timeout_ms);
            break;
        }
        curl.easy_setopt(h, OPT_URL, target);
        curl.easy_setopt(h, OPT_TIMEOUT_MS, (long)left);
        set_method(h, method, body, body_length, has_body);
        sink.buffer.length = 0;  // only the last response's body and headers are kept
        sink.truncated = 0;
        headers.length = 0;
        out->error[0] = 0;
        code = curl.easy_perform(h);
        if (code == CODE_WRITE_ERROR && sink.truncated) {
            code = 0;
            out->error[0] = 0;
        }
        status = 0;
        curl.easy_getinfo(h, INFO_RESPONSE_CODE, &status);
        char *location = NULL;
        if (code != 0 || !is_redirect(status) || curl.easy_getinfo(h, INFO_REDIRECT_URL, &location) != 0 || !location) break;
        if (++hops > MAX_REDIRECTS) {
            code = CODE_TOO_MANY_REDIRECTS;
            snprintf(out->error, sizeof out->error, "Maximum (%d) redirects followed", MAX_REDIRECTS);
            break;
        }
        if (strncasecmp(location, "http://", 7) != 0 && strncasecmp(location, "https://", 8) != 0) {
            code = CODE_UNSUPPORTED_PROTOCOL;
            snprintf(out->error, sizeof out->error, "redirected to a URL that is not http or https: %.300s", location);
            break;
        }
        free(next);
        next = strdup(location);
        if (!next) {
            code = CODE_OUT_OF_MEMORY;
            break;
        }
        target = next;
        if ((status == 303 && strcmp(method, "HEAD") != 0) || ((status == 301 || status == 302) && strcmp(method, "POST") == 0)) {
            method = "GET";
            has_body = 0;
        }
    }
    if (!listed) {
        code = CODE_OUT_OF_MEMORY;
        snprintf(out->error, sizeof out->error, "out of memory for the request's headers");
    }
    if (code != 0 && !out->error[0]) snprintf(out->error, sizeof out->error, "%s", curl.easy_strerror(code));
    free(next);
    curl.easy_cleanup(h);
    curl.slist_free_all(list);

    out->status = code == 0 ? status : 0;
    out->curl_code = code;
    out->truncated = sink.truncated;
    out->body = (unsigned char *)sink.buffer.bytes;
    out->body_length = sink.buffer.length;
    out->headers = headers.bytes;
    out->headers_length = headers.length;
    return 0;
}

void cspool_http_free(cspool_http_result *result) {
    free(result->body);
    free(result->headers);
    result->body = NULL;
    result->headers = NULL;
}
