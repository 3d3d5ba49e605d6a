/*
 * keys_http: the one HTTP(S) GET used by key discovery (WKD, HKP/HKPS, VKS),
 * through libcurl with every limit from [keys].
 *
 * Contract: keys_http_get() fetches url and classifies the outcome:
 *   KH_OK        200, body returned (at most max_answer bytes, NUL added)
 *   KH_NOTFOUND  404/410, or another 4xx (the server says: no such key)
 *   KH_NORESOLVE the host name does not resolve (WKD: no such service)
 *   KH_TEMP      timeout, connection refused, TLS failure, 5xx, 429: try later
 *   KH_BAD       answer larger than max_answer, or a protocol violation
 * Limits: whole request timeout and connect timeout (seconds from [keys]),
 * answer size, at most 3 redirects and only to https (or http when the
 * original URL was http, as hkp:// is), TLS peer and host verification against
 * ca_file.  No signals (CURLOPT_NOSIGNAL), no proxies from the environment.
 */
#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "keys_int.h"

struct keys_body {
    char *buf;
    size_t len, max;
    int too_big;
};

int keys_http_init(void)
{
    static int done;

    if (!done && curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return -1;
    done = 1;
    return 0;
}

static size_t keys_http_write(char *data, size_t size, size_t nmemb, void *arg)
{
    struct keys_body *b = arg;
    size_t n = size * nmemb;
    char *p;

    if (n > b->max - b->len) {
        b->too_big = 1;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    if ((p = realloc(b->buf, b->len + n + 1)) == NULL)
        return 0;
    b->buf = p;
    memcpy(b->buf + b->len, data, n);
    b->len += n;
    b->buf[b->len] = 0;
    return n;
}

int keys_http_get(struct keys *k, const char *url, char **body, size_t *len, char *why,
                  size_t whylen)
{
    struct keys_body b = {NULL, 0, (size_t)k->max_answer, 0};
    char cerr[CURL_ERROR_SIZE] = "";
    long status = 0;
    CURLcode rc;
    CURL *c;
    int ret;

    *body = NULL;
    *len = 0;
    if (keys_http_init() < 0 || (c = curl_easy_init()) == NULL) {
        snprintf(why, whylen, "%s: cannot initialise libcurl", url);
        return KH_TEMP;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, cerr);
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, k->timeout * 1000L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, k->connect_timeout * 1000L);
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, 3L);
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR,
                     strncmp(url, "https:", 6) == 0 ? "https" : "http,https");
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
    if (k->ca_file != NULL)
        curl_easy_setopt(c, CURLOPT_CAINFO, k->ca_file);
    curl_easy_setopt(c, CURLOPT_PROXY, "");
    curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)k->max_answer);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "postseal-filter");
    if (k->connect_to != NULL)
        curl_easy_setopt(c, CURLOPT_CONNECT_TO, k->connect_to);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keys_http_write);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);

    rc = curl_easy_perform(c);
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(c);

    if (b.too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        snprintf(why, whylen, "%s: answer larger than %ld bytes", url, k->max_answer);
        ret = KH_BAD;
    } else if (rc == CURLE_OPERATION_TIMEDOUT) {
        snprintf(why, whylen, "%s: timed out (limit %lds): %s", url, k->timeout, cerr);
        ret = KH_TEMP;
    } else if (rc == CURLE_COULDNT_RESOLVE_HOST) {
        snprintf(why, whylen, "%s: host does not resolve", url);
        ret = KH_NORESOLVE;
    } else if (rc != CURLE_OK) {
        snprintf(why, whylen, "%s: %s", url, cerr[0] ? cerr : curl_easy_strerror(rc));
        ret = KH_TEMP;
    } else if (status == 200) {
        ret = KH_OK;
    } else if (status == 404 || status == 410) {
        snprintf(why, whylen, "%s: HTTP %ld (no key)", url, status);
        ret = KH_NOTFOUND;
    } else if (status == 429 || status >= 500) {
        snprintf(why, whylen, "%s: HTTP %ld (server failure)", url, status);
        ret = KH_TEMP;
    } else if (status >= 400) {
        snprintf(why, whylen, "%s: HTTP %ld", url, status);
        ret = KH_NOTFOUND;
    } else {
        snprintf(why, whylen, "%s: unexpected HTTP status %ld", url, status);
        ret = KH_BAD;
    }
    if (ret == KH_OK) {
        if (b.buf == NULL && (b.buf = calloc(1, 1)) == NULL) {
            snprintf(why, whylen, "%s: out of memory", url);
            return KH_TEMP;
        }
        *body = b.buf;
        *len = b.len;
    } else {
        free(b.buf);
    }
    return ret;
}
