/* test_rules_index: the scope index gives exactly the decisions of the plain
 * walk over every scope, on random rule sets and random requests (and it is
 * really used: big rule sets decide in far less than a walk would take). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "rules_impl.h"

static unsigned long rnd_state;

static unsigned rnd(unsigned n)
{
    rnd_state = rnd_state * 6364136223846793005UL + 1442695040888963407UL;
    return (unsigned)((rnd_state >> 33) % n);
}

static const char *const labels[] = {"a", "b", "mx", "mail", "example", "test", "org", "x-y"};

static void rnd_domain(char *buf, size_t len)
{
    int n = 1 + (int)rnd(3);
    size_t off = 0;
    int i;

    for (i = 0; i < n; i++)
        off += (size_t)snprintf(buf + off, len - off, "%s%s", i ? "." : "",
                                labels[rnd(sizeof(labels) / sizeof(labels[0]))]);
}

static void rnd_pattern(int kind, char *buf, size_t len)
{
    char d[128];

    switch (kind) {
    case RULES_CLIENT: {
        int bits = (int)rnd(33);
        unsigned a = (10u << 24) | (rnd(4) << 16) | (rnd(4) << 8) | rnd(4);

        if (rnd(5) == 0) {
            int b6 = (int)rnd(129);

            snprintf(buf, len, "2001:db8::%x/%d", rnd(4), b6);
            if (b6 < 128) /* host bits must be clear */
                snprintf(buf, len, "2001:db8::/%d", b6 < 32 ? 32 : b6);
            return;
        }
        a &= bits ? ~0u << (32 - bits) : 0;
        snprintf(buf, len, "%u.%u.%u.%u/%d", a >> 24, (a >> 16) & 255, (a >> 8) & 255, a & 255,
                 bits);
        return;
    }
    case RULES_CLIENT_NAME:
    case RULES_SENDER_DOMAIN:
    case RULES_RECIPIENT_DOMAIN:
        rnd_domain(d, sizeof(d));
        switch (rnd(5)) {
        case 0:
            snprintf(buf, len, ".%s", d);
            break;
        case 1:
            snprintf(buf, len, "*.%s", d);
            break;
        case 2:
            snprintf(buf, len, "%s", rnd(4) ? d : "*");
            break;
        default:
            snprintf(buf, len, "%s", d);
        }
        return;
    case RULES_SENDER:
    case RULES_RECIPIENT:
        rnd_domain(d, sizeof(d));
        if (rnd(3) == 0)
            snprintf(buf, len, "@%s", d);
        else
            snprintf(buf, len, "u%u@%s", rnd(3), d);
        return;
    default:
        if (rnd(2))
            snprintf(buf, len, "u%u", rnd(3));
        else
            snprintf(buf, len, "u*");
    }
}

static void build(struct rules *r, unsigned long seed, int nscopes)
{
    char pattern[256];
    char value[32];
    char err[600];
    int i;

    rnd_state = seed;
    for (i = 0; i < nscopes; i++) {
        int kind = (int)rnd(RULES_GLOBAL + 1);
        struct rules_src src = {"t.ini", 10 * i};
        struct rules_scope *s;

        rnd_pattern(kind, pattern, sizeof(pattern));
        s = rules_scope(r, kind, pattern, &src, err, sizeof(err));
        cr_assert_not_null(s, "%s: %s", pattern, err);
        snprintf(value, sizeof(value), "%u", 64 * rnd(5));
        src.line = 10 * i + 1;
        rules_set(r, s, "encryption_keysize", value, &src, err, sizeof(err)); /* may repeat */
        src.line = 10 * i + 2;
        if (rnd(4) == 0)
            rules_set(r, s, "inherit", "no", &src, err, sizeof(err));
        src.line = 10 * i + 3;
        if (rnd(3) == 0)
            rules_set(r, s, "outcome", rnd(2) ? "permanent" : "hold", &src, err, sizeof(err));
        src.line = 10 * i + 4;
        if (rnd(3) == 0)
            rules_set(r, s, "require_tls", rnd(2) ? "yes" : "no", &src, err, sizeof(err));
    }
    rules_finish(r);
}

static void rnd_facts(struct rules_facts *f, char bufs[6][128])
{
    memset(f, 0, sizeof(*f));
    if (rnd(6) == 0)
        snprintf(bufs[0], 128, "2001:db8::%x", rnd(4));
    else
        snprintf(bufs[0], 128, "10.%u.%u.%u", rnd(4), rnd(4), rnd(4));
    f->client_address = bufs[0];
    rnd_domain(bufs[1], 128);
    f->client_name = rnd(5) == 0 ? "unknown" : bufs[1];
    rnd_domain(bufs[5], 100);
    snprintf(bufs[2], 128, "u%u@%s%s", rnd(3), rnd(6) == 0 ? "MX." : "", bufs[5]);
    f->sender = bufs[2];
    rnd_domain(bufs[5], 100);
    snprintf(bufs[3], 128, "u%u@%s%s", rnd(3), bufs[5], rnd(8) == 0 ? "." : "");
    f->recipient = rnd(8) == 0 ? "" : bufs[3];
    snprintf(bufs[4], 128, "u%u", rnd(3));
    f->sasl_username = rnd(2) ? bufs[4] : "";
    f->sasl_method = rnd(2) ? "PLAIN" : "";
    f->tls_protocol = rnd(3) ? "TLSv1.3" : "";
    f->keysize = rnd(3) ? 64 * rnd(5) : 0;
}

Test(rules_index, same_decisions_as_the_plain_walk)
{
    unsigned long seed;
    int checked = 0;
    int failed = 0;

    for (seed = 1; seed <= 20; seed++) {
        struct rules *walk = rules_new();
        struct rules *idx = rules_new();
        int i;

        rules_index_min = (size_t)-1;
        build(walk, seed, 300);
        rules_index_min = 0;
        build(idx, seed, 300);
        cr_assert_null(walk->index);
        cr_assert_not_null(idx->index);
        rnd_state = seed * 7919;
        for (i = 0; i < 2000; i++) {
            struct rules_facts f;
            char bufs[6][128];
            struct rules_result a;
            struct rules_result b;
            struct buf ea;
            struct buf eb;

            rnd_facts(&f, bufs);
            rules_decide(walk, &f, &a);
            rules_decide(idx, &f, &b);
            cr_assert_str_eq(a.action, b.action, "seed %lu request %d (%s %s %s %s)", seed, i,
                             f.client_address, f.client_name, f.sender, f.recipient);
            cr_assert_eq(a.src.line, b.src.line);
            failed += a.failed;
            checked++;
            if (i % 100 == 0) { /* the explanations name the same scopes too */
                buf_init(&ea, 1 << 20);
                buf_init(&eb, 1 << 20);
                rules_explain(walk, &f, &ea);
                rules_explain(idx, &f, &eb);
                cr_assert_str_eq(ea.data, eb.data);
                buf_free(&ea);
                buf_free(&eb);
            }
        }
        rules_free(walk);
        rules_free(idx);
    }
    rules_index_min = 32;
    /* the random sets really exercise refusals and passes */
    cr_assert_gt(failed, checked / 10);
    cr_assert_lt(failed, checked - checked / 10);
}

Test(rules_index, big_rule_sets_decide_fast)
{
    struct rules *r = rules_new();
    char pattern[64];
    char err[600];
    struct rules_facts f;
    struct rules_result res;
    struct timespec t0;
    struct timespec t1;
    double ns;
    int i;

    for (i = 0; i < 20000; i++) {
        struct rules_src src = {"big.ini", i + 1};
        struct rules_scope *s;

        snprintf(pattern, sizeof(pattern), i % 2 ? "host%d.example.net" : "10.%d.%d.0/24",
                 (i / 2) / 250, (i / 2) % 250);
        if (i % 2)
            snprintf(pattern, sizeof(pattern), "host%d.example.net", i);
        s = rules_scope(r, i % 2 ? RULES_CLIENT_NAME : RULES_CLIENT, pattern, &src, err,
                        sizeof(err));
        cr_assert_not_null(s, "%s", err);
        cr_assert_eq(rules_set(r, s, "encryption_keysize", "128", &src, err, sizeof(err)), 0);
    }
    rules_finish(r);
    cr_assert_not_null(r->index);
    memset(&f, 0, sizeof(f));
    f.client_address = "10.39.249.7"; /* the last network */
    f.client_name = "host19999.example.net";
    f.tls_protocol = "TLSv1.2";
    f.keysize = 64;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
    for (i = 0; i < 10000; i++)
        rules_decide(r, &f, &res);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
    ns = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 10000;
    cr_assert_eq(res.failed, 1);
    cr_assert_eq(res.src.line, 20000, "%s", res.action); /* client_name beats client */
    /* a walk over 20000 scopes costs tens of microseconds; the index, a few */
    cr_assert_lt(ns, 10000, "%.0f ns per decision", ns);
    rules_free(r);
}
