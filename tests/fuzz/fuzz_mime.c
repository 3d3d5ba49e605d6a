/* fuzz_mime: the strict MIME layer on arbitrary input: mime_parse over a
 * memfd, then every leaf body decoded with its transfer encoding and
 * re-encoded, and the Content-Type parser on the raw input.  Any crash, leak
 * or sanitizer report is a bug; errors are expected and ignored. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "mime.h"

static int fuzz_fd;

static int fuzz_leaf(struct mime_part *p, void *arg)
{
    char in[4096], out[4096 + MIME_DEC_SLACK], enc[4 * (4096 + MIME_DEC_SLACK) + 16];
    struct mime_dec d;
    struct mime_enc e;
    off_t off = p->body;
    size_t n;

    (void)arg;
    if (p->child != NULL || p->boundary != NULL)
        return 0;
    mime_dec_init(&d, p->cte);
    mime_enc_init(&e, p->cte == MIME_CTE_BASE64 ? MIME_CTE_BASE64 : MIME_CTE_QP);
    while (off < p->end) {
        size_t want = (size_t)(p->end - off) < sizeof(in) ? (size_t)(p->end - off) : sizeof(in);
        ssize_t r = pread(fuzz_fd, in, want, off);

        if (r <= 0)
            break;
        off += r;
        if (mime_dec_update(&d, in, (size_t)r, out, &n) < 0)
            return 0;
        mime_enc_update(&e, out, n, enc);
    }
    if (mime_dec_final(&d, out, &n) == 0)
        mime_enc_update(&e, out, n, enc);
    mime_enc_final(&e, enc);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mime_msg m;
    struct mime_err err;
    struct mime_header h;
    struct mime_hvalue hv;
    struct mime_stats st;
    char eb[200], *s;

    fuzz_fd = memfd_create("fuzz_mime", 0);
    if (fuzz_fd < 0)
        return 0;
    if (write(fuzz_fd, data, size) == (ssize_t)size) {
        if (mime_parse(fuzz_fd, 0, -1, &m, &err) == MIME_OK) {
            mime_walk(m.root, fuzz_leaf, NULL);
            mime_msg_free(&m);
        }
        if (mime_header_read(fuzz_fd, 0, (off_t)(size / 2), "", &h, &err) == MIME_OK)
            mime_header_free(&h);
        mime_body_stats(fuzz_fd, 0, -1, &st);
    }
    close(fuzz_fd);
    if ((s = strndup((const char *)data, size < 2048 ? size : 2048)) != NULL) {
        if (mime_hvalue_parse(s, 1, &hv, eb, sizeof(eb)) == MIME_OK)
            mime_hvalue_free(&hv);
        if (mime_hvalue_parse(s, 0, &hv, eb, sizeof(eb)) == MIME_OK)
            mime_hvalue_free(&hv);
        mime_cte_parse(s);
        free(s);
    }
    return 0;
}
