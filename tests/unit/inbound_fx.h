/* inbound_fx.h: the inbound fixtures (tests/inbound/mkfix.sh), shared by
 * test_inbound and test_cmsstream (included, not linked).
 *
 * Ports: the fixture certificates name the OCSP responder (AIA) and the HTTP
 * server (CRL distribution point), so those two ports are chosen when the
 * fixtures are built: free ports from the kernel (bind to port 0: its
 * ephemeral range, 32768-60999 on Linux, outside the e2e harness's
 * PS_PORT_BASE..PS_PORT_BASE+99), recorded in DIR/ports and kept while they
 * can still be bound; otherwise new ones are chosen and the fixtures are
 * rebuilt (about 8 s).  Nothing depends on fixed ports, so concurrent runs
 * and other services on 10085-10087 do not collide with these tests. */
#ifndef INBOUND_FX_H
#define INBOUND_FX_H

#pragma GCC diagnostic ignored "-Wunused-function"

#include <criterion/criterion.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

/* A socket bound to 127.0.0.1:port (0 = any free port), with SO_REUSEADDR
 * as the test servers (python http.server) use it; -1 if busy. */
static int fx_bind(int port)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((unsigned short)port)};
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;

    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (s < 0)
        return -1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(s);
        return -1;
    }
    return s;
}

/* The port a bound socket got. */
static int fx_port_of(int s)
{
    struct sockaddr_in sa;
    socklen_t len = sizeof(sa);

    cr_assert_eq(getsockname(s, (struct sockaddr *)&sa, &len), 0);
    return ntohs(sa.sin_port);
}

/* A port free right now (for a server only the configuration names). */
static int fx_free_port(void)
{
    int s = fx_bind(0), p;

    cr_assert(s >= 0, "no free port");
    p = fx_port_of(s);
    close(s);
    return p;
}

static int fx_bindable(int port)
{
    int s = port > 0 ? fx_bind(port) : -1;

    if (s < 0)
        return 0;
    close(s);
    return 1;
}

/* Builds (or reuses) the fixtures in dir; *op, *hp = their OCSP and HTTP
 * ports. */
static void fx_build(const char *dir, int *op, int *hp)
{
    char path[700], cmd[1600];
    FILE *fp;

    *op = *hp = 0;
    snprintf(path, sizeof(path), "%s/ports", dir);
    if ((fp = fopen(path, "r")) != NULL) {
        if (fscanf(fp, "%d %d", op, hp) != 2)
            *op = *hp = 0;
        fclose(fp);
    }
    if (*op == *hp || !fx_bindable(*op) || !fx_bindable(*hp)) {
        int a = fx_bind(0), b = fx_bind(0); /* both held: two different ports */

        cr_assert(a >= 0 && b >= 0, "no free ports");
        *op = fx_port_of(a);
        *hp = fx_port_of(b);
        close(a);
        close(b);
    }
    snprintf(cmd, sizeof(cmd), "sh tests/inbound/mkfix.sh %s %d %d", dir, *op, *hp);
    cr_assert_eq(system(cmd), 0, "command failed: %s", cmd);
    cr_assert_not_null(fp = fopen(path, "w"));
    fprintf(fp, "%d %d\n", *op, *hp);
    cr_assert_eq(fclose(fp), 0);
}

#endif
