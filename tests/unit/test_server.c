/* test_server: listen strings are parsed in one place; every form and every
 * malformation. */
#include <criterion/criterion.h>
#include <string.h>

#include "server.h"

static struct server_endpoint ep;
static char err[256];

static int parse(const char *spec)
{
    err[0] = 0;
    return server_endpoint_parse(spec, &ep, err, sizeof(err));
}

Test(server, unix_endpoints)
{
    cr_assert_eq(parse("unix:/run/postseal/policyd.sock"), 0);
    cr_assert(ep.is_unix);
    cr_assert_str_eq(ep.path, "/run/postseal/policyd.sock");
    cr_assert_eq(parse("unix:relative.sock"), 0);
    cr_assert_eq(parse("unix:"), -1);
    cr_assert(strstr(err, "unix socket path empty") != NULL, "%s", err);
    {
        char longpath[200] = "unix:/";

        memset(longpath + 6, 'x', 150);
        longpath[156] = 0;
        cr_assert_eq(parse(longpath), -1);
        cr_assert(strstr(err, "longer than 107 bytes") != NULL, "%s", err);
    }
}

Test(server, inet_endpoints)
{
    cr_assert_eq(parse("inet:127.0.0.1:10040"), 0);
    cr_assert(!ep.is_unix);
    cr_assert_str_eq(ep.host, "127.0.0.1");
    cr_assert_str_eq(ep.port, "10040");
    cr_assert_eq(parse("inet:[::1]:10040"), 0);
    cr_assert_str_eq(ep.host, "::1");
    cr_assert_eq(parse("inet:localhost:25"), 0);
    cr_assert_str_eq(ep.host, "localhost");
    /* no host: loopback, never all interfaces */
    cr_assert_eq(parse("inet:10040"), 0);
    cr_assert_str_eq(ep.host, "127.0.0.1");
    cr_assert_eq(parse("inet::10040"), 0);
    cr_assert_str_eq(ep.host, "127.0.0.1");
    cr_assert_eq(parse("inet:0.0.0.0:10040"), 0); /* all interfaces only when asked */
    cr_assert_str_eq(ep.host, "0.0.0.0");
}

Test(server, malformed_endpoints)
{
    static const char *bad[] = {
        "tcp:127.0.0.1:25",
        "/run/x.sock",
        "inet:",
        "inet:127.0.0.1:",
        "inet:127.0.0.1:0",
        "inet:1.2.3.4:65536",
        "inet:1.2.3.4:25x",
        "inet:[::1]10040",
        "inet:[::1:10040",
        "inet:host:-1",
        "",
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(parse(bad[i]), -1, "accepted \"%s\"", bad[i]);
    cr_assert_eq(parse("tcp:127.0.0.1:25"), -1);
    cr_assert(strstr(err, "expected unix:PATH or inet:HOST:PORT") != NULL, "%s", err);
    cr_assert_eq(parse("inet:1.2.3.4:65536"), -1);
    cr_assert(strstr(err, "port must be a number 1..65535") != NULL, "%s", err);
}
