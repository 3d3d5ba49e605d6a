/*
 * cryptio: the small I/O pieces pgp.c and smime.c share.
 *
 * Contract: the filter keeps messages with LF line ends and reinjection turns every LF into CRLF,
 * so what we sign or encrypt is the input with every LF replaced by CRLF and nothing else changed
 * (no trailing-space stripping, no CR handling).  cio_read_crlf reads the entity in bounded
 * chunks (no copy of the message is held in memory) and, for detached signatures, can hold back
 * the final LF: in multipart/signed that line end is part of the boundary delimiter, not of the
 * signed content (RFC 1847 2.1, RFC 3156 5).
 *
 * Failure: read errors return -1 with errno; the caller turns them into FERR_TEMP.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/rand.h>

#include "cryptio.h"
#include "ferr.h"

void cio_in_init(struct cio_in *in, int fd, int trim_final_lf)
{
    memset(in, 0, sizeof(*in));
    in->fd = fd;
    in->trim_final_lf = trim_final_lf;
}

size_t cio_lf2crlf(const char *src, size_t n, char *dst)
{
    size_t o = 0;
    const char *p = src, *end = src + n, *nl;

    while (p < end) {
        nl = memchr(p, '\n', end - p);
        if (nl == NULL) {
            memcpy(dst + o, p, end - p);
            o += end - p;
            break;
        }
        memcpy(dst + o, p, nl - p);
        o += nl - p;
        dst[o++] = '\r';
        dst[o++] = '\n';
        p = nl + 1;
    }
    return o;
}

ssize_t cio_read_crlf(struct cio_in *in, char *dst, size_t size)
{
    char raw[32768];
    size_t want, o = 0;
    ssize_t n;

    if (size < 4) {
        errno = EINVAL;
        return -1;
    }
    want = (size - 2) / 2;
    if (want > sizeof(raw))
        want = sizeof(raw);
    while (o == 0) {
        do
            n = read(in->fd, raw, want);
        while (n < 0 && errno == EINTR);
        if (n < 0)
            return -1;
        if (n == 0)
            return 0; /* a held final LF is dropped: it is the delimiter's line end */
        in->raw_bytes += n;
        if (in->held_lf) {
            dst[o++] = '\r';
            dst[o++] = '\n';
            if (in->tee && in->tee(in->tee_arg, "\n", 1) < 0) {
                errno = 0;
                return -1;
            }
            in->held_lf = 0;
        }
        if (in->trim_final_lf && raw[n - 1] == '\n') {
            in->held_lf = 1;
            n--;
        }
        if (in->tee && n > 0 && in->tee(in->tee_arg, raw, n) < 0) {
            errno = 0;
            return -1;
        }
        o += cio_lf2crlf(raw, n, dst + o);
    }
    return o;
}

int cio_boundary(char *buf, size_t size)
{
    static const char set[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    unsigned char r[32];
    size_t i;

    if (size < CIO_BOUNDARY_SIZE || RAND_bytes(r, sizeof(r)) != 1)
        return -1;
    memcpy(buf, "=_ps", 4);
    for (i = 0; i < sizeof(r); i++)
        buf[4 + i] = set[r[i] % 62];
    buf[4 + sizeof(r)] = 0;
    return 0;
}

/* The secret keys (private-keys-v1.d) must not be reachable by others: a
 * home others may enter with a key directory others may read or enter is
 * refused, as OpenSMTPD refuses key files readable by others. */
static int cio_gpgme_secrets_ok(const char *home, mode_t home_mode, struct ferr *err)
{
    char dir[4096];
    struct stat st;

    if (!(home_mode & S_IXOTH))
        return FERR_OK;
    if (snprintf(dir, sizeof(dir), "%s/private-keys-v1.d", home) >= (int)sizeof(dir) ||
        stat(dir, &st) < 0 || !(st.st_mode & (S_IROTH | S_IXOTH)))
        return FERR_OK;
    ferr_set(err, FERR_TEMP,
             "4.3.0 GnuPG home %s: its secret keys are accessible by others (mode %04o on %s; "
             "chmod 700 %s)",
             home, (unsigned)(st.st_mode & 07777), dir, home);
    return FERR_TEMP;
}

int cio_gpgme_home_ok(const char *home, struct ferr *err)
{
    struct stat st;

    if (home == NULL || *home == 0) {
        ferr_set(err, FERR_TEMP, "4.3.5 no GnuPG home configured (gnupg_home)");
        return FERR_TEMP;
    }
    if (stat(home, &st) < 0) {
        ferr_set(err, FERR_TEMP, "4.3.0 GnuPG home %s: %s", home, strerror(errno));
        return FERR_TEMP;
    }
    if (!S_ISDIR(st.st_mode)) {
        ferr_set(err, FERR_TEMP, "4.3.0 GnuPG home %s: not a directory", home);
        return FERR_TEMP;
    }
    if (access(home, R_OK | X_OK) < 0) {
        ferr_set(err, FERR_TEMP, "4.3.0 GnuPG home %s: %s", home, strerror(errno));
        return FERR_TEMP;
    }
    return cio_gpgme_secrets_ok(home, st.st_mode, err);
}

int cio_gpgme_ctx(const char *home, gpgme_ctx_t *ctx, struct ferr *err)
{
    static char *global_home; /* the home set as gpgme's default (first one asked for) */
    gpgme_error_t ge = 0;

    *ctx = NULL;
    if (cio_gpgme_home_ok(home, err) != FERR_OK)
        return FERR_TEMP;
    if (global_home == NULL) {
        /* Every gpgme context would otherwise ask "gpg --version" again when told its home;
         * made the default once, later contexts on the same home start no process. */
        if (gpgme_check_version(NULL) == NULL ||
            (ge = gpgme_set_engine_info(GPGME_PROTOCOL_OpenPGP, NULL, home)) != 0 ||
            (ge = gpgme_engine_check_version(GPGME_PROTOCOL_OpenPGP)) != 0 ||
            (global_home = strdup(home)) == NULL) {
            ferr_set(err, FERR_TEMP, "4.3.0 gpgme: no usable gpg engine%s%s", ge ? ": " : "",
                     ge ? gpgme_strerror(ge) : "");
            return FERR_TEMP;
        }
    }
    if ((ge = gpgme_new(ctx)) != 0 ||
        (strcmp(home, global_home) != 0 &&
         (ge = gpgme_ctx_set_engine_info(*ctx, GPGME_PROTOCOL_OpenPGP, NULL, home)) != 0) ||
        (ge = gpgme_set_protocol(*ctx, GPGME_PROTOCOL_OpenPGP)) != 0 ||
        (ge = gpgme_set_pinentry_mode(*ctx, GPGME_PINENTRY_MODE_LOOPBACK)) != 0) {
        ferr_set(err, FERR_TEMP, "4.3.0 gpgme context for %s: %s", home, gpgme_strerror(ge));
        if (*ctx)
            gpgme_release(*ctx);
        *ctx = NULL;
        return FERR_TEMP;
    }
    gpgme_set_armor(*ctx, 1);
    gpgme_set_textmode(*ctx, 0);
    gpgme_set_offline(*ctx, 1);
    return FERR_OK;
}
