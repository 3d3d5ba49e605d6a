/*
 * fuzz_sendmail_access: libFuzzer target for the Sendmail access-map reader
 * (lib/sendmail_access), the second configuration format postseal loads.
 *
 * The input is loaded twice (unsupported entries as errors, then as warnings)
 * through a memfd.  Every loaded entry is looked up by its own key for its tag
 * (it must be found: the lookup must agree with the loader) and checked against
 * a plaintext, a weak and a strong verified peer; the refusal text must be a
 * terminated string within the buffer.  Findings: sanitizer reports, leaks,
 * aborts on broken invariants.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "rules.h"
#include "sendmail_access.h"
#include "sendmail_rcpt.h"

static int fuzz_fd = -1;
static char fuzz_path[64];

/* TLS_Rcpt: on receipt: every kept entry is found by its own key (a domain
 * key through an address at that domain), lookups and decisions never fail. */
static void fuzz_rcpt(struct sma_map *map)
{
    static const char *const rcpts[] = {
        "darth@endmail.org", "darth+x@sub.endmail.org", "Leia", "+x@y", "a@", "@", "", NULL,
    };
    struct sma_conf conf = {.map = map, .tls_rcpt = SMA_RCPT_INBOUND};
    struct cfg_diag diag = {.path = "fuzz"};
    struct rules_facts f = {.client_address = "192.0.2.7", .client_name = "mx.example.com"};
    struct rules_result res;
    struct smr *s;
    char addr[SMA_MAX_LINE + 8];
    size_t i;

    if (smr_new(&conf, &diag, &s) < 0 || s == NULL)
        return;
    for (i = 0; i < map->count; i++) {
        const struct sma_entry *e = &map->entries[i];

        if (e->tag != SMA_TAG_RCPT || e->unsupported != NULL || *e->key == 0)
            continue;
        snprintf(addr, sizeof(addr), "%s%s", strchr(e->key, '@') ? "" : "x@", e->key);
        if (strchr(addr, '@')[1] == 0 && strchr(addr, '+') == NULL &&
            smr_find(s, addr, NULL) == NULL)
            abort(); /* user@ entry not found for that local part */
    }
    for (i = 0; i < sizeof(rcpts) / sizeof(rcpts[0]); i++) {
        f.recipient = rcpts[i];
        (void)smr_find(s, rcpts[i], NULL);
        if (smr_decide(s, &f, &res) && memchr(res.action, 0, sizeof(res.action)) == NULL)
            abort();
    }
    smr_free(s);
}

static void fuzz_map(struct sma_map *map)
{
    static const struct rules_facts peers[] = {
        {.client_name = "mx.example.com", .client_address = "192.0.2.7"},
        {.client_name = "mx.example.com",
         .client_address = "10.1.2.3",
         .tls_protocol = "TLSv1",
         .keysize = 40,
         .ccert_fingerprint = "AA:BB"},
        {.client_name = "mx.example.com",
         .client_address = "2001:db8::1",
         .tls_protocol = "TLSv1.3",
         .keysize = 256,
         .ccert_subject = "mx.example.com"},
        {.client_name = "unknown",
         .client_address = "192.0.2.8",
         .tls_protocol = "TLSv1.2",
         .keysize = 128,
         .ccert_subject = "other.example.net"},
    };
    static const char *const hosts[] = {"mx.example.com", "example.com", "", NULL};
    static const char *const addrs[] = {"192.0.2.7", "10.1.2.3", "2001:db8::1", "", NULL};
    struct sma_conf conf = {.map = map};
    struct cfg_diag diag = {.path = "fuzz"};
    struct rules *r;
    size_t i, p, h, a;
    int tag;

    for (i = 0; i < map->count; i++) {
        const struct sma_entry *e = &map->entries[i];

        if (e->line < 1 || e->tag < SMA_TAG_CLT || e->tag > SMA_TAG_RCPT)
            abort();
        (void)sma_reply_code(e, 0);
        (void)sma_reply_code(e, 1);
        if (e->unsupported == NULL && sma_find(map, e->tag, e->key, NULL) == NULL &&
            sma_find(map, e->tag, NULL, e->key) == NULL)
            abort(); /* an entry the loader kept is not found by its own key */
    }
    for (tag = SMA_TAG_CLT; tag <= SMA_TAG_RCPT; tag++)
        for (h = 0; h < sizeof(hosts) / sizeof(hosts[0]); h++)
            for (a = 0; a < sizeof(addrs) / sizeof(addrs[0]); a++)
                (void)sma_find(map, tag, hosts[h], addrs[a]);
    if ((r = rules_new()) == NULL)
        abort();
    (void)sma_to_rules(&conf, r, &diag);
    rules_finish(r);
    for (p = 0; p < sizeof(peers) / sizeof(peers[0]); p++) {
        struct rules_result res;

        rules_decide(r, &peers[p], &res);
        if (memchr(res.action, 0, sizeof(res.action)) == NULL)
            abort();
    }
    rules_free(r);
    fuzz_rcpt(map);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int warn;

    if (fuzz_fd < 0) {
        log_open("fuzz_sendmail_access", LOG_TO_STDERR, 0);
        if ((fuzz_fd = memfd_create("fuzz_sma", 0)) < 0)
            abort();
        snprintf(fuzz_path, sizeof(fuzz_path), "/proc/self/fd/%d", fuzz_fd);
    }
    if (ftruncate(fuzz_fd, 0) < 0 || pwrite(fuzz_fd, data, size, 0) != (ssize_t)size)
        abort();
    for (warn = 0; warn <= 1; warn++) {
        struct cfg_diag diag = {0};
        struct sma_map *map = sma_load(fuzz_path, &diag, warn);

        if (map != NULL) {
            fuzz_map(map);
            sma_free(map);
        }
    }
    return 0;
}
