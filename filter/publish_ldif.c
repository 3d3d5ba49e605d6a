/*
 * publish_ldif: this gateway's S/MIME certificates as LDIF (RFC 2849) for an
 * LDAP directory that peers search the way postseal-filter's lookup does:
 * (mail=ADDRESS) under a base, attribute userCertificate;binary.
 *
 * Output, one entry per certificate address, sorted by address:
 *   dn: mail=ADDRESS,BASE            (RFC 4514 escaping of the value)
 *   objectClass: top
 *   objectClass: inetOrgPerson
 *   cn: the certificate's subject CN (else the address)
 *   sn: the local part
 *   mail: ADDRESS
 *   userCertificate;binary:: BASE64-DER   (every valid certificate of the
 *       address, then the other certificates of the same PEM files: the
 *       chain, which the lookup uses as intermediates)
 * Values that are not LDIF SAFE-STRINGs are written base64 ("::"); lines
 * are folded at 76 columns.  It loads with ldapadd (or slapadd).
 *
 * Contract: certificates come from PEM files ([publish] smime_certs, files
 * or directories, default the certificates of [inbound] smime_keypair).  A
 * file with a "-----BEGIN ... PRIVATE KEY-----" line is skipped with a
 * message, and reading stops at that line: no key is ever decoded or
 * written.  A certificate is published under each of its addresses (SAN
 * rfc822Name, else subject emailAddress, lower-cased) that is in
 * [publish] domains, when it is valid now; expired, not yet valid and
 * foreign-domain certificates are reported and left out.
 * Limits: 1 MiB per PEM file, 10000 files per directory, 64 MiB of LDIF.
 * Failure: -1 after publish_note() naming the file (unreadable, malformed).
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>

#include "buf.h"
#include "publish.h"

#define LDIF_MAX_FILE (1024 * 1024)
#define LDIF_MAX_FILES 10000
#define LDIF_MAX_OUT (64u * 1024 * 1024)
#define LDIF_COLS 76

struct ldif_entry {
    char addr[256];
    char cn[256];
    STACK_OF(X509) * certs; /* the address's certificates, then chain certificates */
};

struct ldif_run {
    const struct publish_conf *pc;
    struct ldif_entry *v;
    int n, alloc;
    int failed;
};

static struct ldif_entry *ldif_entry(struct ldif_run *r, const char *addr)
{
    int i;

    for (i = 0; i < r->n; i++)
        if (strcmp(r->v[i].addr, addr) == 0)
            return &r->v[i];
    if (r->n == r->alloc) {
        int n = r->alloc ? r->alloc * 2 : 16;
        struct ldif_entry *v = realloc(r->v, n * sizeof(*v));

        if (v == NULL)
            return NULL;
        r->v = v;
        r->alloc = n;
    }
    memset(&r->v[r->n], 0, sizeof(r->v[0]));
    snprintf(r->v[r->n].addr, sizeof(r->v[0].addr), "%.255s", addr);
    if ((r->v[r->n].certs = sk_X509_new_null()) == NULL)
        return NULL;
    return &r->v[r->n++];
}

static int ldif_add_cert(struct ldif_entry *e, X509 *x)
{
    int i;

    for (i = 0; i < sk_X509_num(e->certs); i++)
        if (X509_cmp(sk_X509_value(e->certs, i), x) == 0)
            return 0;
    if (!X509_up_ref(x))
        return -1;
    if (!sk_X509_push(e->certs, x)) {
        X509_free(x);
        return -1;
    }
    return 0;
}

/* Reads a PEM file up to (not into) a private key; NULL with *has_key set
 * when there is one, NULL on error (noted). */
static char *ldif_read_pem(const char *path, size_t *len, int *has_key)
{
    char line[4096], *data = NULL;
    size_t n = 0, cap = 0;
    FILE *fp;

    *has_key = 0;
    if ((fp = fopen(path, "r")) == NULL) {
        publish_note("cannot read %s: %s", path, strerror(errno));
        return NULL;
    }
    while (fgets(line, sizeof(line), fp) != NULL) {
        size_t l = strlen(line);

        if (strncmp(line, "-----BEGIN ", 11) == 0 && strstr(line, "PRIVATE KEY") != NULL) {
            *has_key = 1;
            break;
        }
        if (n + l + 1 > LDIF_MAX_FILE) {
            publish_note("%s: larger than %d bytes", path, LDIF_MAX_FILE);
            goto fail;
        }
        if (n + l + 1 > cap) {
            size_t c = cap ? cap * 2 : 8192;
            char *d;

            while (c < n + l + 1)
                c *= 2;
            if ((d = realloc(data, c)) == NULL) {
                publish_note("out of memory");
                goto fail;
            }
            data = d;
            cap = c;
        }
        memcpy(data + n, line, l);
        n += l;
    }
    if (ferror(fp)) {
        publish_note("cannot read %s: %s", path, strerror(errno));
        goto fail;
    }
    fclose(fp);
    if (*has_key) {
        free(data);
        return NULL;
    }
    if (data == NULL && (data = malloc(1)) == NULL) {
        publish_note("out of memory");
        return NULL;
    }
    data[n] = 0;
    *len = n;
    return data;
fail:
    fclose(fp);
    free(data);
    return NULL;
}

static void ldif_lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* The certificate's addresses: SAN rfc822Names, else subject emailAddress
 * (as the lookup side reads them).  Returns how many were put in addrs. */
static int ldif_addrs(X509 *x, char addrs[][256], int max)
{
    GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    X509_NAME *subj = X509_get_subject_name(x);
    int i, n = 0;

    for (i = 0; gens != NULL && i < sk_GENERAL_NAME_num(gens) && n < max; i++) {
        GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
        const char *e;

        if (g->type != GEN_EMAIL)
            continue;
        e = (const char *)ASN1_STRING_get0_data(g->d.rfc822Name);
        if ((size_t)ASN1_STRING_length(g->d.rfc822Name) != strlen(e) || strlen(e) >= 256)
            continue;
        snprintf(addrs[n], 256, "%s", e);
        ldif_lower(addrs[n++]);
    }
    GENERAL_NAMES_free(gens);
    if (n > 0)
        return n;
    for (i = -1;
         (i = X509_NAME_get_index_by_NID(subj, NID_pkcs9_emailAddress, i)) >= 0 && n < max;) {
        ASN1_STRING *v = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subj, i));
        const char *e = (const char *)ASN1_STRING_get0_data(v);

        if ((size_t)ASN1_STRING_length(v) != strlen(e) || strlen(e) >= 256)
            continue;
        snprintf(addrs[n], 256, "%s", e);
        ldif_lower(addrs[n++]);
    }
    return n;
}

static const char *ldif_time(const ASN1_TIME *t)
{
    static char buf[64];
    struct tm tm;

    if (t == NULL || ASN1_TIME_to_tm(t, &tm) != 1)
        return "?";
    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S UTC", &tm);
    return buf;
}

/* One PEM file: its certificates, the ones with addresses in our domains
 * become entries, the others (CA certificates) follow them as chain. */
static void ldif_file(struct ldif_run *r, const char *path)
{
    char *data, addrs[16][256], local[256], *at;
    STACK_OF(X509) *leaves = NULL, *chain = NULL;
    struct ldif_entry *used[64];
    int has_key, i, j, k, nused = 0, begins;
    const char *p;
    unsigned long err;
    size_t len;
    BIO *bio;
    X509 *x;

    if ((data = ldif_read_pem(path, &len, &has_key)) == NULL) {
        if (has_key)
            publish_note("skipped %s: it holds a private key (never published; name the "
                         "certificate file in smime_certs)",
                         path);
        else
            r->failed = 1;
        return;
    }
    ERR_clear_error();
    if ((bio = BIO_new_mem_buf(data, (int)len)) == NULL || (leaves = sk_X509_new_null()) == NULL ||
        (chain = sk_X509_new_null()) == NULL) {
        publish_note("out of memory");
        r->failed = 1;
        goto done;
    }
    k = 0;
    while ((x = PEM_read_bio_X509(bio, NULL, NULL, NULL)) != NULL) {
        k++;
        if (ldif_addrs(x, addrs, 16) > 0)
            sk_X509_push(leaves, x);
        else
            sk_X509_push(chain, x);
    }
    err = ERR_peek_last_error();
    /* OpenSSL 3 may report a garbled certificate as "no start line": count
     * the BEGIN lines ourselves */
    for (p = data, begins = 0; (p = strstr(p, "-----BEGIN ")) != NULL; p += 11)
        if (strncmp(p + 11, "CERTIFICATE-----", 16) == 0 ||
            strncmp(p + 11, "X509 CERTIFICATE-----", 21) == 0 ||
            strncmp(p + 11, "TRUSTED CERTIFICATE-----", 24) == 0)
            begins++;
    if (ERR_GET_REASON(err) != PEM_R_NO_START_LINE || begins > k) {
        publish_note("%s: malformed certificate #%d: %s", path, k + 1,
                     ERR_reason_error_string(err) ? ERR_reason_error_string(err) : "?");
        r->failed = 1;
        goto done;
    }
    if (k == 0) {
        publish_note("%s: no PEM certificate in the file", path);
        r->failed = 1;
        goto done;
    }
    for (i = 0; i < sk_X509_num(leaves); i++) {
        char subj[256] = "";
        int na;

        x = sk_X509_value(leaves, i);
        na = ldif_addrs(x, addrs, 16);
        X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, subj, sizeof(subj));
        for (j = 0; j < na; j++) {
            struct ldif_entry *e;

            if ((at = strrchr(addrs[j], '@')) == NULL || !publish_domain_ok(r->pc, at + 1)) {
                publish_note("skipped certificate %s for %s: not in [publish] domains", path,
                             addrs[j]);
                continue;
            }
            if (X509_cmp_current_time(X509_get0_notAfter(x)) <= 0) {
                publish_note("skipped certificate %s for %s: expired %s", path, addrs[j],
                             ldif_time(X509_get0_notAfter(x)));
                continue;
            }
            if (X509_cmp_current_time(X509_get0_notBefore(x)) >= 0) {
                publish_note("skipped certificate %s for %s: not valid before %s", path, addrs[j],
                             ldif_time(X509_get0_notBefore(x)));
                continue;
            }
            snprintf(local, sizeof(local), "%.*s", (int)(at - addrs[j]), addrs[j]);
            if ((e = ldif_entry(r, addrs[j])) == NULL || ldif_add_cert(e, x) < 0) {
                publish_note("out of memory");
                r->failed = 1;
                goto done;
            }
            if (e->cn[0] == 0)
                snprintf(e->cn, sizeof(e->cn), "%.255s", subj[0] ? subj : addrs[j]);
            if (nused < 64)
                used[nused++] = e;
            publish_verbose("ldif: %s: certificate %s", addrs[j], path);
        }
    }
    for (i = 0; i < nused; i++)
        for (j = 0; j < sk_X509_num(chain); j++)
            if (ldif_add_cert(used[i], sk_X509_value(chain, j)) < 0) {
                publish_note("out of memory");
                r->failed = 1;
                goto done;
            }
done:
    ERR_clear_error();
    sk_X509_pop_free(leaves, X509_free);
    sk_X509_pop_free(chain, X509_free);
    BIO_free(bio);
    free(data);
}

/* A file, or every regular non-hidden file of a directory (sorted). */
static void ldif_walk(struct ldif_run *r, const char *path)
{
    struct dirent **names;
    struct stat st;
    char file[4096];
    int i, n;

    if (stat(path, &st) < 0) {
        publish_note("cannot read %s: %s", path, strerror(errno));
        r->failed = 1;
        return;
    }
    if (!S_ISDIR(st.st_mode)) {
        ldif_file(r, path);
        return;
    }
    if ((n = scandir(path, &names, NULL, alphasort)) < 0) {
        publish_note("cannot read %s: %s", path, strerror(errno));
        r->failed = 1;
        return;
    }
    for (i = 0; i < n; i++) {
        if (names[i]->d_name[0] != '.' && i < LDIF_MAX_FILES &&
            snprintf(file, sizeof(file), "%s/%s", path, names[i]->d_name) < (int)sizeof(file) &&
            stat(file, &st) == 0 && S_ISREG(st.st_mode))
            ldif_file(r, file);
        free(names[i]);
    }
    free(names);
}

/* RFC 2849 SAFE-STRING: ASCII without NUL, LF, CR; not starting with
 * space, ':' or '<'; we also refuse a trailing space. */
static int ldif_safe(const unsigned char *v, size_t len)
{
    size_t i;

    if (len == 0)
        return 1;
    if (v[0] == ' ' || v[0] == ':' || v[0] == '<' || v[len - 1] == ' ')
        return 0;
    for (i = 0; i < len; i++)
        if (v[i] == 0 || v[i] == '\n' || v[i] == '\r' || v[i] > 126)
            return 0;
    return 1;
}

/* "name: value" or "name:: base64", folded at LDIF_COLS columns. */
static int ldif_attr(struct buf *b, const char *name, const unsigned char *v, size_t len,
                     int binary)
{
    struct buf line;
    size_t off, take;
    int rc = -1;

    buf_init(&line, LDIF_MAX_OUT);
    if (!binary && ldif_safe(v, len)) {
        if (buf_printf(&line, "%s: ", name) < 0 || buf_append(&line, v, len) < 0)
            goto done;
    } else {
        size_t blen = 4 * ((len + 2) / 3);

        if (buf_printf(&line, "%s:: ", name) < 0 || buf_reserve(&line, blen + 1) < 0)
            goto done;
        EVP_EncodeBlock((unsigned char *)line.data + line.len, v, (int)len);
        buf_commit(&line, blen);
    }
    for (off = 0; off < line.len; off += take) {
        take = off == 0 ? LDIF_COLS : LDIF_COLS - 1;
        if (take > line.len - off)
            take = line.len - off;
        if ((off > 0 && buf_puts(b, " ") < 0) || buf_append(b, line.data + off, take) < 0 ||
            buf_puts(b, "\n") < 0)
            goto done;
    }
    rc = 0;
done:
    buf_free(&line);
    return rc;
}

/* RFC 4514 escaping of an attribute value inside a DN. */
static void ldif_dn_value(const char *v, char *out, size_t len)
{
    size_t o = 0, i, n = strlen(v);

    for (i = 0; i < n && o + 4 < len; i++) {
        char c = v[i];

        if (strchr(",+\"\\<>;=", c) != NULL || (i == 0 && (c == '#' || c == ' ')) ||
            (i == n - 1 && c == ' '))
            out[o++] = '\\';
        out[o++] = c;
    }
    out[o] = 0;
}

static int ldif_entry_out(struct buf *b, const struct ldif_entry *e, const char *base)
{
    char dnv[600], dn[1200];
    const char *at = strrchr(e->addr, '@');
    int i;

    ldif_dn_value(e->addr, dnv, sizeof(dnv));
    snprintf(dn, sizeof(dn), "mail=%s,%s", dnv, base);
    if (ldif_attr(b, "dn", (const unsigned char *)dn, strlen(dn), 0) < 0 ||
        buf_puts(b, "objectClass: top\nobjectClass: inetOrgPerson\n") < 0 ||
        ldif_attr(b, "cn", (const unsigned char *)e->cn, strlen(e->cn), 0) < 0 ||
        ldif_attr(b, "sn", (const unsigned char *)e->addr, (size_t)(at - e->addr), 0) < 0 ||
        ldif_attr(b, "mail", (const unsigned char *)e->addr, strlen(e->addr), 0) < 0)
        return -1;
    for (i = 0; i < sk_X509_num(e->certs); i++) {
        unsigned char *der = NULL;
        int len = i2d_X509(sk_X509_value(e->certs, i), &der);
        int rc;

        if (len <= 0)
            return -1;
        rc = ldif_attr(b, "userCertificate;binary", der, (size_t)len, 1);
        OPENSSL_free(der);
        if (rc < 0)
            return -1;
    }
    return buf_puts(b, "\n");
}

static int ldif_cmp(const void *a, const void *b)
{
    return strcmp(((const struct ldif_entry *)a)->addr, ((const struct ldif_entry *)b)->addr);
}

int publish_ldif_build(const struct publish_conf *pc, char **text, size_t *len, int *nentries)
{
    struct ldif_run r = {.pc = pc};
    struct buf b;
    int i, rc = -1;

    buf_init(&b, LDIF_MAX_OUT);
    if (pc->nsmime == 0)
        publish_note("%s: no certificates: set [publish] smime_certs (or [inbound] "
                     "smime_keypair)",
                     pc->path);
    for (i = 0; i < pc->nsmime; i++)
        ldif_walk(&r, pc->smime_certs[i]);
    if (r.failed || pc->nsmime == 0)
        goto done;
    qsort(r.v, r.n, sizeof(*r.v), ldif_cmp);
    if (buf_puts(&b, "version: 1\n\n") < 0)
        goto nomem;
    for (i = 0; i < r.n; i++)
        if (ldif_entry_out(&b, &r.v[i], pc->ldif_base) < 0)
            goto nomem;
    *text = b.data;
    *len = b.len;
    *nentries = r.n;
    b.data = NULL;
    rc = 0;
    goto done;
nomem:
    publish_note("LDIF larger than %u bytes or out of memory", LDIF_MAX_OUT);
done:
    for (i = 0; i < r.n; i++)
        sk_X509_pop_free(r.v[i].certs, X509_free);
    free(r.v);
    buf_free(&b);
    return rc;
}

int publish_ldif_write(const struct publish_conf *pc, const char *file, int *nentries)
{
    char *text;
    size_t len;
    int rc;

    if (publish_ldif_build(pc, &text, &len, nentries) < 0)
        return -1;
    rc = publish_fs_replace_file(file, text, len);
    free(text);
    return rc;
}
