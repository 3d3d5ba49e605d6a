/*
 * netstring: the codec of djb's netstrings ("12:hello world!,"), the framing of
 * Postfix's socketmap(5) protocol.
 *
 * Contract: netstring_parse() looks at bytes already read into a bounded buffer
 * (never reads a socket itself) and says OK (one netstring, payload located in
 * place), MORE (what is there is a valid prefix: read more), or an error code.
 * Strict: the length is 1..NETSTRING_MAX_DIGITS decimal digits without a leading
 * zero ("0:," is the only length starting with 0); the caller's max bounds the
 * payload, and a length above it is refused as soon as its digits are read, before
 * any payload arrives.  An error means the stream cannot be resynchronised: the
 * caller closes the connection.  netstring_format() never truncates.
 */
#include <stdio.h>
#include <string.h>

#include "netstring.h"

int netstring_parse(const char *buf, size_t len, size_t max, struct netstring_view *out)
{
    size_t i = 0;
    size_t n = 0;

    while (i < len && buf[i] >= '0' && buf[i] <= '9') {
        if (i == NETSTRING_MAX_DIGITS)
            return NETSTRING_ELIMIT;
        if (i == 1 && buf[0] == '0')
            return NETSTRING_EDIGIT;
        n = n * 10 + (size_t)(buf[i] - '0');
        i++;
        if (n > max)
            return NETSTRING_ELIMIT;
    }
    if (i == len)
        return NETSTRING_MORE; /* empty, or only digits so far */
    if (i == 0)
        return NETSTRING_EDIGIT;
    if (buf[i] != ':')
        return NETSTRING_ECOLON;
    i++;
    if (len - i < n + 1)
        return NETSTRING_MORE;
    if (buf[i + n] != ',')
        return NETSTRING_ECOMMA;
    out->data = buf + i;
    out->len = n;
    out->consumed = i + n + 1;
    return NETSTRING_OK;
}

const char *netstring_strerror(int code)
{
    switch (code) {
    case NETSTRING_OK:
        return "complete";
    case NETSTRING_MORE:
        return "incomplete";
    case NETSTRING_EDIGIT:
        return "netstring length is not a decimal number (or has a leading zero)";
    case NETSTRING_ELIMIT:
        return "netstring longer than the limit";
    case NETSTRING_ECOLON:
        return "netstring length not followed by ':'";
    case NETSTRING_ECOMMA:
        return "netstring payload not followed by ','";
    }
    return "unknown netstring error";
}

size_t netstring_format(char *out, size_t size, const char *data, size_t len)
{
    char head[NETSTRING_MAX_DIGITS + 8];
    int hl = snprintf(head, sizeof(head), "%zu:", len);

    if (hl < 0 || (size_t)hl >= sizeof(head) || size < (size_t)hl + len + 1)
        return 0;
    memcpy(out, head, (size_t)hl);
    memcpy(out + hl, data, len);
    out[hl + len] = ',';
    return (size_t)hl + len + 1;
}
