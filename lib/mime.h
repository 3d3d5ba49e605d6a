/* mime: strict streaming MIME layer, byte-offset based (see mime.c, mime_hdr.c,
 * mime_cte.c).  Lines end in LF (as Postfix pipe(8) hands messages over); a CR
 * right before the LF is tolerated and ignored when parsing. */
#ifndef POSTSEAL_MIME_H
#define POSTSEAL_MIME_H

#include <stddef.h>
#include <sys/types.h>

/* Documented limits; crossing one is an error naming the part. */
#define MIME_MAX_HEADER_LINE 998    /* one physical header line, LF excluded (RFC 5322 2.1.1) */
#define MIME_MAX_FIELD 16384        /* one unfolded header field, name included */
#define MIME_MAX_FIELDS 1000        /* header fields in one header section */
#define MIME_MAX_HEADER_SIZE 262144 /* bytes of one header section */
#define MIME_MAX_DEPTH 16           /* nesting of multipart and message/rfc822 entities */
#define MIME_MAX_PARTS 2000         /* entities in one message */
#define MIME_MAX_BOUNDARY 70        /* boundary parameter length (RFC 2046 5.1.1) */
#define MIME_MAX_PARAMS 32          /* parameters of one Content-Type/-Disposition */
#define MIME_MAX_PARAM_VALUE 1024   /* one (reassembled, decoded) parameter value */
#define MIME_MAX_TOKEN 127          /* type, subtype, parameter name, disposition */
#define MIME_MAX_PARTID 128         /* "1.2.3" style part names */

/* Return values of every mime_ function that can fail. */
enum {
    MIME_OK = 0,
    MIME_EBAD = -1,   /* malformed input: err->text names the part and construct */
    MIME_ELIMIT = -2, /* a documented limit was crossed */
    MIME_EIO = -3     /* read/write error or out of memory (transient) */
};

/* Error text: "part 1.2: unterminated multipart boundary \"b1\"" or
 * "message header: line 3: header line without colon". */
struct mime_err {
    char text[400];
};

/* ---- header sections (mime_hdr.c) ---- */

struct mime_field {
    char *name;  /* as written, without trailing blanks */
    char *value; /* unfolded (the line breaks removed, RFC 5322 2.2.3), leading blanks removed */
    off_t off;   /* offset of the field's first byte */
    off_t end;   /* offset after the LF that ends its last line */
};

struct mime_header {
    struct mime_field *fields;
    size_t count;
    off_t off;  /* first byte of the header section */
    off_t body; /* first byte after the empty line (== end of data if there is none) */
};

/* Reads the header section starting at off (bytes up to end only; end < 0 =
 * to end of file).  part names the entity in errors ("" = the message). */
int mime_header_read(int fd, off_t off, off_t end, const char *part, struct mime_header *h,
                     struct mime_err *err);
void mime_header_free(struct mime_header *h);
/* First field with this name (case-insensitive) or NULL; index gives the next. */
const struct mime_field *mime_header_find(const struct mime_header *h, const char *name,
                                          size_t *index);

/* Decodes RFC 2047 encoded words ("=?utf-8?Q?a_b?=", "=?utf-8?B?...?=") of
 * an unfolded header value into their raw bytes (no charset conversion);
 * blanks between two adjacent encoded words are dropped; a malformed word is
 * copied as written.  out is NUL-terminated, truncated to outlen - 1 bytes. */
size_t mime_words_decode(const char *in, char *out, size_t outlen);

/* Parsed Content-Type or Content-Disposition value.  RFC 2045 5.1 syntax,
 * RFC 2231 continuations (name*0, name*1) and charset'lang'%XX values;
 * quoted strings and comments.  Names and type/subtype are lower-cased. */
struct mime_param {
    char *name;    /* lower-cased */
    char *value;   /* decoded bytes, NUL-terminated */
    char *charset; /* RFC 2231 charset, "" if none */
};

struct mime_hvalue {
    char type[MIME_MAX_TOKEN + 1];    /* "multipart" / disposition "attachment" */
    char subtype[MIME_MAX_TOKEN + 1]; /* "mixed"; "" for Content-Disposition */
    struct mime_param *params;        /* nparams entries */
    size_t nparams;
};

/* is_ctype: 1 parses "type/subtype *(; param)", 0 parses "token *(; param)".
 * On error the text says what is wrong (the caller prefixes the part). */
int mime_hvalue_parse(const char *value, int is_ctype, struct mime_hvalue *hv, char *errbuf,
                      size_t errlen);
void mime_hvalue_free(struct mime_hvalue *hv);
const char *mime_hvalue_param(const struct mime_hvalue *hv, const char *name);

/* ---- transfer encodings (mime_cte.c) ---- */

enum { MIME_CTE_7BIT, MIME_CTE_8BIT, MIME_CTE_BINARY, MIME_CTE_QP, MIME_CTE_BASE64 };

/* Maps a Content-Transfer-Encoding value (case-insensitive, comments and
 * blanks allowed) to MIME_CTE_*; -1 for an unknown encoding. */
int mime_cte_parse(const char *value);
const char *mime_cte_name(int cte);
/* The value of hex digit c (either case), -1 when c is not one: shared by
 * quoted-printable bodies and RFC 2047 / RFC 2231 header decoding. */
int mime_hexval(int c);

#define MIME_DEC_SLACK 256 /* also the longest run of blanks a qp line may hold */

/* Streaming decoder.  mime_dec_update decodes len input bytes into out, which
 * must hold at least len + MIME_DEC_SLACK bytes (held-back bytes of the
 * previous call may come out now).
 * Identity encodings copy.  Errors: MIME_EBAD with text in dec->error.
 * mime_dec_final checks the end state (e.g. truncated base64 quantum). */
struct mime_dec {
    int cte;
    unsigned long acc;         /* base64: bits of the current quantum */
    int q;                     /* base64: characters of the current quantum */
    int pad;                   /* base64: 0, 2 = one '=' seen after 2 chars, 3 = done */
    char pend[MIME_DEC_SLACK]; /* quoted-printable: undecided bytes ('=' escapes, blanks) */
    size_t npend;
    char error[128];
};
void mime_dec_init(struct mime_dec *dec, int cte);
int mime_dec_update(struct mime_dec *dec, const char *in, size_t len, char *out, size_t *outlen);
int mime_dec_final(struct mime_dec *dec, char *out, size_t *outlen);

/* Streaming encoders writing LF line ends.  base64: 76-character lines.
 * quoted-printable (text mode, RFC 2045 6.7): input LF is a hard line break,
 * lines at most 76 characters, '=' and every byte outside 33-126 except inner
 * blanks escaped, a blank before a line end escaped, "From " and a leading '.'
 * at line start escaped (mbox and SMTP safety), bare CR escaped.
 * out must hold at least mime_enc_bound(len) bytes. */
struct mime_enc {
    int cte;
    unsigned char hold[3]; /* base64: bytes of an incomplete triple */
    int nhold;
    int col;      /* output column */
    char line[8]; /* qp: start of the current input line ("From " check) */
    int nline;
    int blank; /* qp: a pending blank (space or tab), -1 none */
};
size_t mime_enc_bound(size_t len);
void mime_enc_init(struct mime_enc *enc, int cte);
size_t mime_enc_update(struct mime_enc *enc, const char *in, size_t len, char *out);
/* Flushes the end; a base64/qp body always ends with LF. */
size_t mime_enc_final(struct mime_enc *enc, char *out);

/* What a body needs to travel unchanged through 7-bit SMTP and survive
 * signature checks: counts over [off, end) of fd. */
struct mime_stats {
    off_t bytes;
    off_t lines;
    size_t max_line; /* longest line, LF excluded */
    int has_8bit;    /* byte >= 0x80 */
    int has_nul;
    int has_cr;         /* any CR (LF is the line end inside postseal) */
    int trailing_blank; /* a line ends with space or tab */
    int from_line;      /* a line starts with "From " */
    int no_final_lf;    /* data does not end with LF */
};
int mime_body_stats(int fd, off_t off, off_t end, struct mime_stats *st);
/* 1 when the body may be sent as 7bit and signed without re-encoding. */
int mime_stats_7bit_safe(const struct mime_stats *st);

/* ---- the entity tree (mime.c) ---- */

struct mime_part {
    char id[MIME_MAX_PARTID]; /* "" = the message, "1", "1.2", ... */
    int depth;                /* 0 = the message */
    off_t off;                /* first byte of the header section */
    off_t body;               /* first byte of the body */
    off_t end;                /* end of the body (the LF before a delimiter excluded) */
    struct mime_hvalue ctype; /* defaulted: text/plain (message/rfc822 in multipart/digest) */
    int ctype_given;          /* 1 if a Content-Type field was present */
    int cte;                  /* MIME_CTE_* (7bit when absent) */
    char disposition[MIME_MAX_TOKEN + 1]; /* "", "inline", "attachment" ... */
    /* multipart only: */
    char *boundary;
    off_t preamble, preamble_end;            /* preamble bytes (may be empty) */
    off_t epilogue, epilogue_end;            /* after the close delimiter line */
    struct mime_part *parent, *child, *next; /* message/rfc822 has one child */
    size_t nchild;
};

struct mime_msg {
    struct mime_part *root;
    size_t nparts;
    off_t size;
};

/* Parses the entity structure of the message in fd from off to end (end < 0:
 * to end of file) in one streaming pass; memory depends on the number of
 * parts, never on their size.  message/rfc822 parts with an identity
 * encoding are parsed as one child.  Errors name the part. */
int mime_parse(int fd, off_t off, off_t end, struct mime_msg *msg, struct mime_err *err);
void mime_msg_free(struct mime_msg *msg);
/* Part by id ("" = root) or NULL. */
struct mime_part *mime_part_find(const struct mime_msg *msg, const char *id);
/* Depth-first walk; returns the first non-zero fn result. */
int mime_walk(struct mime_part *part, int (*fn)(struct mime_part *, void *), void *arg);
/* "message" for the root, "part 1.2" otherwise (for error texts). */
const char *mime_part_name(const struct mime_part *part, char *buf, size_t len);
/* 1 if the part's type/subtype match (subtype "*" = any). */
int mime_part_is(const struct mime_part *part, const char *type, const char *subtype);

#endif
