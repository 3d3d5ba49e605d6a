/* xform: the filter's message surgery (see xform.c). */
#ifndef POSTSEAL_XFORM_H
#define POSTSEAL_XFORM_H

#include <stdio.h>

#include "ferr.h"
#include "mime.h"

enum { XFORM_HP_CLEAR, XFORM_HP_CIPHER };

/* What the top level of the message already is. */
enum { XFORM_PLAIN, XFORM_SIGNED, XFORM_ENCRYPTED };
int xform_classify(int fd, const struct mime_msg *m);

/*
 * Writes the inner entity that the crypto modules protect: the protected
 * header fields of h (RFC 9788: every field except trace, transport and
 * content fields, and never Bcc), for hp = XFORM_HP_CIPHER also an HP-Outer
 * field per protected field as the outer header will show it (Subject "..."
 * when obscure_subject), then the content fields with hp="clear"|"cipher"
 * added to Content-Type, a blank line and the body.  Every leaf body that is
 * not 7-bit safe (8-bit bytes, NUL, CR, lines over 76 characters, trailing
 * blanks, "From " lines) is re-encoded: quoted-printable for text, base64
 * otherwise; a message/... leaf (delivery-status ...) with 7-bit lines up to
 * 998 characters is copied (those types must stay 7bit).  keep_body = 1 copies the body unchanged (already signed input).
 * extra_lf = 1 ends the entity with one more LF: multipart/signed takes the
 * entity's last LF as part of the boundary delimiter (RFC 2046), and the
 * body's own last line end must survive.
 */
int xform_inner(int fd, const struct mime_msg *m, const struct mime_header *h, int hp,
                int obscure_subject, int keep_body, int extra_lf, FILE *out, struct ferr *err);

/* Writes the outer message: the header fields of h except content fields,
 * MIME-Version, Bcc and X-Postseal-*, Subject replaced by "..." when
 * obscure_subject, "MIME-Version: 1.0", then the entity (headers, blank
 * line, body) read from entity_fd to its end.  entity_fd < 0: the header
 * part only (the caller sends the entity after it, see reinject_sendv). */
int xform_outer(int fd, const struct mime_header *h, int obscure_subject, int entity_fd, FILE *out,
                struct ferr *err);

/* The original message, byte for byte, without Bcc/Resent-Bcc fields; with
 * name not NULL, "name: value" is put first and any field of that name
 * removed. */
int xform_passthru(int fd, const struct mime_header *h, const char *name, const char *value,
                   FILE *out, struct ferr *err);

#endif
