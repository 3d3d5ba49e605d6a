/* server: event loop for line/record protocols over unix and TCP sockets (see server.c). */
#ifndef POSTSEAL_SERVER_H
#define POSTSEAL_SERVER_H

#include <stddef.h>
#include <sys/types.h>

#include "buf.h"

/* A protocol plugs into the server with these callbacks. */
struct server_proto {
    /* Per-connection state; peer is "127.0.0.1:4711", "[::1]:4711", "unix" or
     * "stdio".  Return NULL to refuse the connection. */
    void *(*open)(void *app, const char *peer);
    /* Called with the unconsumed input (data[len] == 0; the callee may modify
     * data[0..len) in place).  Appends answers to out and returns the number of
     * bytes it consumed (0: needs more input), or -1 to drop the connection (the
     * callee logged why).  Called again while it consumes and input remains. */
    ssize_t (*feed)(void *conn, char *data, size_t len, struct buf *out);
    /* The connection ends: reason is NULL for an orderly close by the peer. */
    void (*close)(void *conn, const char *reason);
    size_t in_max;     /* input bound per connection: more pending is an error */
    size_t answer_max; /* room feed() needs in out for one answer */
};

struct server_limits {
    int max_conns;       /* connections served at once; more are closed at once */
    int idle_timeout;    /* seconds without a pending request before closing */
    int request_timeout; /* seconds to complete a started request or to take an answer */
};

/* Where to listen, parsed in ONE place:
 *   unix:PATH                 a unix-domain socket
 *   inet:HOST:PORT            TCP, HOST a name, an IPv4 address or [IPv6]
 *   inet:PORT or inet::PORT   TCP on the loopback address 127.0.0.1 */
struct server_endpoint {
    int is_unix;
    char path[108];
    char host[256];
    char port[8];
};
int server_endpoint_parse(const char *spec, struct server_endpoint *ep, char *err, size_t errlen);

struct server;

struct server *server_new(const struct server_proto *proto, void *app,
                          const struct server_limits *lim);
void server_free(struct server *srv); /* closes everything, unlinks unix sockets */
void server_set_limits(struct server *srv, const struct server_limits *lim);
/* Called in the loop after SIGHUP (never inside a callback). */
void server_set_reload(struct server *srv, void (*reload)(void *app));
/* Binds and listens (a unix socket gets mode `mode`; a stale socket file is
 * replaced, a live one is an error).  Returns 0 or -1 with err. */
/* Creates the directory of a unix:PATH listen string (mode 0755) if missing;
 * inet: strings and failures other than EEXIST only log. */
void server_make_socket_dir(const char *spec);
int server_listen(struct server *srv, const char *spec, int mode, char *err, size_t errlen);
/* Serves until SIGTERM/SIGINT; returns 0.  Listeners must exist. */
int server_run(struct server *srv);
/* Serves one peer on in_fd/out_fd (spawn(8) mode) until EOF, a protocol error
 * or SIGTERM; returns 0 after an orderly EOF, else -1. */
int server_run_stdio(struct server *srv, int in_fd, int out_fd);

#endif
