/*
 * ferr: the one result type of the filter modules.  Every function that can
 * fail returns FERR_OK, FERR_TEMP or FERR_PERM and fills a struct ferr whose
 * text begins with an RFC 3463 enhanced status code, so the program can print
 * it to stderr unchanged and exit with the code (Postfix pipe(8) then uses the
 * status code in the bounce).
 *
 * Contract: ferr_set never fails and never overflows (text is truncated to
 * fit); an unknown code becomes FERR_TEMP, so a caller's mistake defers mail
 * instead of bouncing or delivering it.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "ferr.h"

/* "N.N.N " with class 2, 4 or 5 and 1-3 digit subject/detail. */
static int ferr_has_status(const char *s)
{
    int i, n;

    if (s[0] != '2' && s[0] != '4' && s[0] != '5')
        return 0;
    if (s[1] != '.')
        return 0;
    s += 2;
    for (i = 0; i < 2; i++) {
        for (n = 0; isdigit((unsigned char)s[n]); n++)
            ;
        if (n < 1 || n > 3)
            return 0;
        s += n;
        if (*s != (i == 0 ? '.' : ' '))
            return 0;
        s++;
    }
    return 1;
}

int ferr_exit_code(int code)
{
    if (code == FERR_OK || code == FERR_PERM)
        return code;
    return FERR_TEMP;
}

void ferr_clear(struct ferr *err)
{
    err->code = FERR_OK;
    err->text[0] = 0;
}

void ferr_set(struct ferr *err, int code, const char *fmt, ...)
{
    char buf[sizeof(err->text)];
    va_list ap;

    err->code = ferr_exit_code(code);
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (ferr_has_status(buf) || err->code == FERR_OK)
        snprintf(err->text, sizeof(err->text), "%s", buf);
    else
        snprintf(err->text, sizeof(err->text), "%s %.505s",
                 err->code == FERR_PERM ? "5.3.0" : "4.3.0", buf);
}
