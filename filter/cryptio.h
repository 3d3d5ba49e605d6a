/* cryptio: shared I/O helpers of the outbound crypto modules (see cryptio.c). */
#ifndef POSTSEAL_CRYPTIO_H
#define POSTSEAL_CRYPTIO_H

#include <stdio.h>
#include <sys/types.h>

/* Reads the LF text of a MIME entity from fd and hands out its CRLF form. */
struct cio_in {
    int fd;
    int trim_final_lf; /* hold back the entity's last LF (it belongs to the delimiter) */
    /* if set, called with the LF bytes handed out (before conversion); returns -1 on failure */
    int (*tee)(void *arg, const char *lf, size_t n);
    void *tee_arg;
    int held_lf;     /* internal */
    off_t raw_bytes; /* LF bytes consumed so far */
};

void cio_in_init(struct cio_in *in, int fd, int trim_final_lf);

/* Fills dst (size >= 4) with the next CRLF bytes; 0 at end of input, -1 with errno on a read
 * error (errno 0 when the tee failed).  Never reads more than (size - 2) / 2 raw bytes at once. */
ssize_t cio_read_crlf(struct cio_in *in, char *dst, size_t size);

/* A fresh MIME boundary: "=_ps" followed by 32 random characters [0-9A-Za-z].  "=_" cannot occur
 * in quoted-printable or base64 lines and the random part cannot be guessed by a sender.
 * size >= CIO_BOUNDARY_SIZE.  Returns 0, or -1 when the random generator failed. */
#define CIO_BOUNDARY_SIZE 40
int cio_boundary(char *buf, size_t size);

/* Converts n LF bytes into CRLF; dst holds 2n.  Returns the length written. */
size_t cio_lf2crlf(const char *src, size_t n, char *dst);

/* gpgme context on the GnuPG home `home` (armor on, offline, loopback pinentry).  The home must
 * be an existing, readable directory.  Returns FERR_OK or FERR_TEMP with err set. */
#include <gpgme.h>
struct ferr;
int cio_gpgme_ctx(const char *home, gpgme_ctx_t *ctx, struct ferr *err);
/* Only the checks on the directory (cheap: no gpg process is started). */
int cio_gpgme_home_ok(const char *home, struct ferr *err);

#endif /* POSTSEAL_CRYPTIO_H */
