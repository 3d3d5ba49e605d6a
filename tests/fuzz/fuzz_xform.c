/* fuzz_xform: the filter's message surgery on arbitrary input: header read,
 * MIME parse, classification, the inner entity (RFC 9788 header protection,
 * 7-bit re-encoding of every leaf), the outer message and the pass-through
 * copy, all written to /dev/null.  No crypto is involved.  Any crash, leak or
 * sanitizer report is a bug; errors are expected. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "ferr.h"
#include "mime.h"
#include "xform.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct mime_header h;
    struct mime_msg m;
    struct mime_err merr;
    struct ferr err;
    FILE *null = fopen("/dev/null", "w");
    int fd = memfd_create("fuzz_xform", 0), efd = memfd_create("fuzz_xform_ent", 0);
    char dec[256];

    if (null == NULL || fd < 0 || efd < 0)
        goto out;
    if (write(fd, data, size) != (ssize_t)size || write(efd, "Content-Type: x/y\n\nz\n", 21) != 21)
        goto out;
    if (mime_header_read(fd, 0, -1, "", &h, &merr) == MIME_OK) {
        if (mime_parse(fd, 0, -1, &m, &merr) == MIME_OK) {
            int kind = xform_classify(fd, &m);

            xform_inner(fd, &m, &h, XFORM_HP_CIPHER, 1, kind == XFORM_SIGNED, 1, null, &err);
            xform_inner(fd, &m, &h, XFORM_HP_CLEAR, 0, 0, 0, null, &err);
            mime_msg_free(&m);
        }
        xform_outer(fd, &h, 1, efd, null, &err);
        xform_passthru(fd, &h, "X-Postseal-Hold", "fuzz", null, &err);
        if (h.count > 0)
            mime_words_decode(h.fields[0].value, dec, sizeof(dec));
        mime_header_free(&h);
    }
out:
    if (null)
        fclose(null);
    if (fd >= 0)
        close(fd);
    if (efd >= 0)
        close(efd);
    return 0;
}
