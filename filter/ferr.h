/* ferr: result codes shared by every filter module (see ferr.c). */
#ifndef POSTSEAL_FERR_H
#define POSTSEAL_FERR_H

/* The codes are the filter's exit statuses as Postfix pipe(8) reads them:
 * 75 (EX_TEMPFAIL) keeps the message queued, 69 (EX_UNAVAILABLE) bounces it
 * with the enhanced status code found at the start of stderr. */
enum { FERR_OK = 0, FERR_TEMP = 75, FERR_PERM = 69 };

/* text starts with an enhanced status code: "4.7.0 ..." or "5.7.1 ...". */
struct ferr {
    int code;
    char text[512];
};

/* Records code and text (printf format).  If the formatted text does not
 * start with an enhanced status code "N.N.N ", one is prepended: "4.3.0" for
 * FERR_TEMP, "5.3.0" for FERR_PERM.  A code other than FERR_OK/FERR_PERM is
 * stored as FERR_TEMP (fail closed: unknown means "try again later"). */
void ferr_set(struct ferr *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears err to FERR_OK with empty text. */
void ferr_clear(struct ferr *err);

/* Maps any code to the exit status the filter may use: 0, 75 or 69 only. */
int ferr_exit_code(int code);

#endif
