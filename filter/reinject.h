/* reinject: hands a finished message back to Postfix (see reinject.c). */
#ifndef POSTSEAL_REINJECT_H
#define POSTSEAL_REINJECT_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "ferr.h"

enum { REINJECT_SMTP, REINJECT_SENDMAIL };

struct reinject_conf {
    int method;
    char host[256];          /* SMTP: the return smtpd (default 127.0.0.1) */
    char port[16];           /* default 10026 */
    char helo[256];          /* EHLO name (default localhost) */
    long connect_timeout;    /* seconds */
    long timeout;            /* seconds per SMTP command/reply, or for the whole sendmail run */
    char *sendmail_argv[32]; /* sendmail: path and fixed arguments (no shell), NULL-terminated */
};

/* Parses "host:port", "[host]:port" or "host" into c.  -1 if malformed. */
int reinject_parse_hostport(struct reinject_conf *c, const char *value);

/*
 * Sends the message in fd ([0, EOF), LF line ends) to the recipients with
 * this envelope sender ("" = null sender).  SMTP: LF -> CRLF, dot-stuffing,
 * BODY=8BITMIME when offered (SMTPUTF8 for UTF-8 addresses); any 4xx, timeout or connection failure
 * is FERR_TEMP, a 5xx FERR_PERM with the server's enhanced status code. Either every recipient was
 * accepted or the transaction was abandoned. sendmail: execv (never a shell) of sendmail_argv + "-G
 * -i -f SENDER -- RCPT...", message on stdin; exit 0 = OK, anything else FERR_TEMP.
 */
int reinject_send(const struct reinject_conf *c, int fd, const char *sender,
                  const char *const *rcpts, size_t n, struct ferr *err);

/*
 * Sends the message like reinject_send over SMTP to the holding smtpd
 * (hold: host and port of [filter] hold_reinject; timeouts and EHLO name from
 * c), an smtpd whose restrictions answer HOLD so the message waits in
 * Postfix's hold queue.  Shared by every "hold" outcome (outbound no_key,
 * inbound policy).  No hold host: FERR_TEMP, never delivered instead.
 */
int reinject_hold(const struct reinject_conf *c, const struct reinject_conf *hold, int fd,
                  const char *sender, const char *const *rcpts, size_t n, struct ferr *err);

/* The same for a message stored in nfds files, sent one after the other
 * from their starts as one message (line state and 8-bit check span the
 * files): no copy of a large entity into the message file.  SMTP only; with
 * the sendmail method only nfds = 1 is accepted (else FERR_TEMP). */
int reinject_sendv(const struct reinject_conf *c, const int *fds, size_t nfds, const char *sender,
                   const char *const *rcpts, size_t n, struct ferr *err);

/* The SMTP DATA form of one chunk of LF text: LF -> CRLF, a leading '.'
 * doubled; *bol (1 before the first chunk) carries the line state across
 * chunks.  out needs room for 2 * n bytes.  Returns the bytes written. */
size_t reinject_smtp_form(const char *in, size_t n, char *out, int *bol);

/*
 * One SMTP transaction fed while the message is being made (SMTP method
 * only): reinject_tx_new checks the addresses and prepares; nothing is sent
 * until the first byte is written to reinject_tx_fp (LF text; the header
 * file hdr_fd, [0, EOF), goes first).  Then the dialogue runs up to DATA and
 * the data flow as CRLF, dot-stuffed, while the caller produces them.  The
 * entity written to the FILE must be 7-bit unless hdr_fd already needed
 * BODY=8BITMIME (else the stream fails).  A write error is kept and reported
 * by commit/abort.  reinject_tx_commit ends the data with "." and returns the
 * server's verdict; reinject_tx_abort closes the connection WITHOUT "." so
 * the server discards the transaction: after DATA began its result is
 * always FERR_TEMP.  Both free tx.  Test hook: the environment variable
 * POSTSEAL_TEST_STREAM_FAIL_AFTER=N makes the stream fail once more than N
 * bytes were written (fails closed: nothing is delivered).
 */
struct reinject_tx;
struct reinject_tx *reinject_tx_new(const struct reinject_conf *c, int hdr_fd, const char *sender,
                                    const char *const *rcpts, size_t n, struct ferr *err);
FILE *reinject_tx_fp(struct reinject_tx *tx);
int reinject_tx_commit(struct reinject_tx *tx, struct ferr *err);
/* err: the caller's reason (kept when the stream itself did not fail). */
int reinject_tx_abort(struct reinject_tx *tx, struct ferr *err);

#endif
