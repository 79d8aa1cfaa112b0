/* The tcp source kind: newline-delimited lines of source.format from several TCP clients at
 * once (as the TCP inputs of syslog, Vector or Logstash). Keys: bind "HOST:PORT" (required;
 * "[::1]:PORT" for IPv6, "*:PORT" or ":PORT" for every interface, port 0 for one the system
 * picks, see sl_source_endpoint), max_line, max_clients.
 *
 * Each connection has its own chunked reader (reader.h), so a line split across writes is
 * kept until its newline, its line numbers and byte offsets count from the connection's first
 * byte, and a CSV connection may begin with its own header. When a client closes its side, a
 * last line without a newline is parsed as a line (as the last line of a file): a line cut in
 * the middle thus usually fails to parse and is counted as malformed. A malformed line is
 * reported with "connection HOST:PORT: " before the reason. A connection that fails (reset)
 * is closed the same way. While max_clients are open, a new connection is accepted and closed
 * at once (stats: refused) and a warning logged.
 *
 * Reads wait on one epoll descriptor (sl_source_fd) over the listening socket and every
 * connection (level-triggered), and serve only the connections that have input. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "srcbe.h"

#define TCP_MAX_CLIENTS_DEFAULT 64
#define TCP_EVENTS 64

struct conn {
    int fd;
    int ready; /* epoll said readable, or lines may be buffered past a full read */
    int eof;   /* the client closed (or the connection failed): parse the rest, then drop */
    sl_reader *rd;
    sl_src_origin org; /* the reader's on_bad ud */
};

struct tsrc {
    sl_src_attrs attrs; /* schema.attributes of the read being gathered */
    int lfd, ep;
    char endpoint[SL_OPT_VAL_MAX + 16];
    struct conn **c;
    size_t nc, maxc, next;
    sl_format fmt;
    sl_schema schema; /* each connection's reader reads by it */
    sl_addict *dict;
    size_t max_line;
    sl_bad_fn fn;
    void *ud;
    int wait_ms, closing;
    struct sl_reader_stats gone; /* counts of connections closed */
    uint64_t accepted, refused;
};

static const char *const tcp_keys[] = {"bind", "max_line", "max_clients"};

/* Splits "HOST:PORT" into host (NULL for any interface) and port. Returns 0 or -1. */
static int split_hostport(const char *s, char *host, size_t hostsz, char *port, size_t portsz)
{
    const char *colon = strrchr(s, ':');
    if (!colon || colon[1] == 0 || strlen(colon + 1) >= portsz)
        return -1;
    for (const char *p = colon + 1; *p; p++)
        if (*p < '0' || *p > '9')
            return -1;
    if (atol(colon + 1) > 65535)
        return -1;
    snprintf(port, portsz, "%s", colon + 1);
    size_t hl = (size_t)(colon - s);
    const char *h = s;
    if (hl >= 2 && h[0] == '[' && h[hl - 1] == ']') {
        h++;
        hl -= 2;
    }
    if (hl >= hostsz)
        return -1;
    memcpy(host, h, hl);
    host[hl] = 0;
    if (strcmp(host, "*") == 0)
        host[0] = 0;
    return 0;
}

static int tcp_read_opts(const sl_topology *t, char *bind, size_t bindsz, uint64_t *max_line,
                         uint64_t *max_clients, char *msg, size_t msglen)
{
    const sl_opts *o = &t->source.opts;
    int rc = sl_opts_known(o, "source", "source type tcp", tcp_keys, 3, msg, msglen);
    if (rc)
        return rc;
    if (!sl_opts_get(o, "bind"))
        return sl_opts_missing(o, "source", "bind", "source.type is tcp", msg, msglen);
    if ((rc = sl_opts_str(o, "source", "bind", bind, bindsz, msg, msglen)))
        return rc;
    char host[SL_OPT_VAL_MAX], port[8];
    if (split_hostport(bind, host, sizeof host, port, sizeof port))
        return sl_opts_fail(o, "source", "bind", msg, msglen,
                            "expected HOST:PORT such as 127.0.0.1:5601, got \"%s\"", bind);
    if ((rc = sl_opts_u64(o, "source", "max_line", 1, (uint64_t)1 << 30, max_line, msg, msglen)))
        return rc;
    return sl_opts_u64(o, "source", "max_clients", 1, 4096, max_clients, msg, msglen);
}

static int tcp_check(const sl_topology *t, char *msg, size_t msglen)
{
    char bind[SL_OPT_VAL_MAX];
    uint64_t a = 0, b = 0;
    return tcp_read_opts(t, bind, sizeof bind, &a, &b, msg, msglen);
}

/* "HOST:PORT" or "[HOST]:PORT" of a socket address. */
static void addr_text(const struct sockaddr *sa, socklen_t len, char *out, size_t outsz)
{
    char h[64], p[16];
    if (getnameinfo(sa, len, h, sizeof h, p, sizeof p, NI_NUMERICHOST | NI_NUMERICSERV)) {
        snprintf(out, outsz, "?");
        return;
    }
    snprintf(out, outsz, sa->sa_family == AF_INET6 ? "[%s]:%s" : "%s:%s", h, p);
}

static void tcp_close_be(void **be);

static int listen_on(struct tsrc *s, const char *addr, char *msg, size_t msglen)
{
    char host[SL_OPT_VAL_MAX], port[8];
    if (split_hostport(addr, host, sizeof host, port, sizeof port)) {
        snprintf(msg, msglen, "source.bind: expected HOST:PORT, got \"%s\"", addr);
        return SL_ECONFIG;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV},
                    *res = NULL;
    int g = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (g) {
        snprintf(msg, msglen, "source tcp: %s: %s", addr, gai_strerror(g));
        return SL_EIO;
    }
    int e = 0;
    for (struct addrinfo *a = res; a && s->lfd < 0; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            e = errno;
            continue;
        }
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) || listen(fd, 128)) {
            e = errno;
            close(fd);
            continue;
        }
        s->lfd = fd;
    }
    freeaddrinfo(res);
    if (s->lfd < 0) {
        snprintf(msg, msglen, "source tcp: cannot listen on %s: %s", addr, strerror(e));
        return SL_EIO;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(s->lfd, (struct sockaddr *)&ss, &sl) == 0)
        addr_text((struct sockaddr *)&ss, sl, s->endpoint, sizeof s->endpoint);
    else
        snprintf(s->endpoint, sizeof s->endpoint, "%s", addr);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (epoll_ctl(s->ep, EPOLL_CTL_ADD, s->lfd, &ev)) {
        snprintf(msg, msglen, "source tcp: epoll: %s", strerror(errno));
        return SL_EIO;
    }
    return 0;
}

static int tcp_open(const sl_topology *t, FILE *in, sl_addict *dict, sl_bad_fn on_bad, void *bad_ud,
                    void **be, char *msg, size_t msglen)
{
    (void)in;
    char bind[SL_OPT_VAL_MAX];
    uint64_t max_line = 0, max_clients = TCP_MAX_CLIENTS_DEFAULT;
    int rc = tcp_read_opts(t, bind, sizeof bind, &max_line, &max_clients, msg, msglen);
    if (rc)
        return rc;
    struct tsrc *s = calloc(1, sizeof *s);
    if (!s || !(s->c = calloc((size_t)max_clients, sizeof *s->c))) {
        free(s);
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    s->lfd = -1;
    s->maxc = (size_t)max_clients;
    s->fmt = t->source.format;
    s->schema = t->schema;
    s->attrs.na = t->schema.nattrs;
    s->dict = dict;
    s->max_line = (size_t)max_line;
    s->fn = on_bad;
    s->ud = bad_ud;
    s->wait_ms = SL_READER_WAIT_MS;
    s->ep = epoll_create1(EPOLL_CLOEXEC);
    if (s->ep < 0) {
        snprintf(msg, msglen, "source tcp: epoll: %s", strerror(errno));
        rc = SL_EIO;
    } else {
        rc = listen_on(s, bind, msg, msglen);
    }
    if (rc) {
        void *p = s;
        tcp_close_be(&p);
        return rc;
    }
    SL_INFO("source", "tcp: listening on %s", s->endpoint);
    *be = s;
    return 0;
}

static void drop_conn(struct tsrc *s, size_t i)
{
    struct conn *c = s->c[i];
    struct sl_reader_stats st;
    sl_reader_stats(c->rd, &st);
    sl_src_add_input(&s->gone, &st);
    SL_DEBUG("source", "tcp: %s closed", c->org.what);
    close(c->fd); /* also leaves the epoll set */
    sl_reader_destroy(&c->rd);
    free(c);
    s->c[i] = s->c[--s->nc];
    s->c[s->nc] = NULL;
}

/* Accepts every waiting connection. Returns 0 or a negative sl_err. */
static int accept_all(struct tsrc *s)
{
    while (s->lfd >= 0) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(s->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ECONNABORTED)
                return 0;
            SL_WARN("source", "tcp: accept: %s", strerror(errno)); /* EMFILE: retried later */
            return 0;
        }
        char peer[128];
        addr_text((struct sockaddr *)&ss, sl, peer, sizeof peer);
        if (s->nc == s->maxc) {
            s->refused++;
            SL_WARN("source", "tcp: %zu clients connected (max_clients): closing %s", s->nc, peer);
            close(fd);
            continue;
        }
        struct conn *c = calloc(1, sizeof *c);
        if (!c || !(c->rd = sl_reader_new_chunked(s->fmt, s->dict, s->max_line))) {
            free(c);
            close(fd);
            return SL_ENOMEM;
        }
        sl_reader_set_schema(c->rd, &s->schema);
        c->fd = fd;
        c->ready = 1;
        c->org.fn = s->fn;
        c->org.ud = s->ud;
        snprintf(c->org.what, sizeof c->org.what, "connection %.120s", peer);
        sl_reader_on_bad(c->rd, sl_src_origin_bad, &c->org);
        struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
        if (epoll_ctl(s->ep, EPOLL_CTL_ADD, fd, &ev)) {
            SL_WARN("source", "tcp: epoll: %s: closing %s", strerror(errno), peer);
            sl_reader_destroy(&c->rd);
            free(c);
            close(fd);
            continue;
        }
        s->c[s->nc++] = c;
        s->accepted++;
        SL_DEBUG("source", "tcp: %s", c->org.what);
    }
    return 0;
}

/* Parses what connection c has into buf (up to cap records; records base.. of a read of up to
 * total, for the attributes) and receives more while its reader needs it. Returns the number
 * of records, or a negative sl_err. */
static long serve(struct tsrc *s, struct conn *c, sl_rec *buf, size_t cap, size_t base,
                  size_t total)
{
    size_t n = 0;
    for (;;) {
        long k = sl_reader_read(c->rd, buf + n, cap - n);
        if (k < 0)
            return k;
        if (sl_src_attrs_take(&s->attrs, c->rd, base + n, (size_t)k, total))
            return SL_ENOMEM;
        n += (size_t)k;
        if (n == cap)
            return (long)n; /* c->ready stays: more lines may be buffered */
        if (c->eof)
            return (long)n;
        size_t room = 0;
        char *p = sl_reader_room(c->rd, &room);
        if (!p) {
            SL_ERROR("source", "tcp: %s: the reader took no input", c->org.what);
            return SL_EIO;
        }
        ssize_t r = recv(c->fd, p, room, 0);
        if (r > 0) {
            sl_reader_commit(c->rd, (size_t)r);
            continue;
        }
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) && !s->closing) {
            c->ready = 0;
            return (long)n;
        }
        if (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
            SL_WARN("source", "tcp: %s: %s", c->org.what, strerror(errno));
        /* Closed by the client, failed, or drained after close_input: the rest is its last. */
        sl_reader_end(c->rd);
        c->eof = 1;
    }
}

static long tcp_read(void *be, sl_rec *buf, size_t cap, int *end)
{
    struct tsrc *s = be;
    size_t n = 0;
    int64_t deadline = -1;
    struct epoll_event evs[TCP_EVENTS];
    int nev = 0;
    for (;;) {
        for (int i = 0; i < nev; i++) {
            struct conn *c = evs[i].data.ptr;
            if (c)
                c->ready = 1;
        }
        /* Connections in turn from where the last full read stopped. */
        size_t nc = s->nc;
        for (size_t j = 0; j < nc && n < cap; j++) {
            size_t i = (s->next + j) % nc;
            struct conn *c = s->c[i];
            if (!c->ready && !s->closing)
                continue;
            long k = serve(s, c, buf + n, cap - n, n, cap);
            if (k < 0)
                return k;
            n += (size_t)k;
            if (n == cap)
                s->next = (i + 1) % nc;
        }
        for (size_t i = s->nc; i-- > 0;)
            if (s->c[i]->eof && sl_reader_at_end(s->c[i]->rd))
                drop_conn(s, i);
        if (n == cap)
            return (long)n;
        int rc = accept_all(s);
        if (rc < 0)
            return rc;
        if (s->closing) {
            /* Every connection was drained to its end above (or holds lines past a full buf). */
            *end = n == 0 && s->nc == 0;
            return (long)n;
        }
        if (n > 0)
            return (long)n;
        int64_t now = sl_src_now_ms();
        if (deadline < 0)
            deadline = now + s->wait_ms;
        nev = epoll_wait(s->ep, evs, TCP_EVENTS, (int)(deadline > now ? deadline - now : 0));
        if (nev < 0) {
            if (errno != EINTR) {
                SL_ERROR("source", "tcp: epoll_wait: %s", strerror(errno));
                return SL_EIO;
            }
            nev = 0;
        }
        if (nev == 0)
            return 0;
    }
}

static int tcp_fd(const void *be)
{
    return ((const struct tsrc *)be)->ep;
}

static void tcp_stats(const void *be, sl_source_stats *st)
{
    const struct tsrc *s = be;
    st->input = s->gone;
    for (size_t i = 0; i < s->nc; i++) {
        struct sl_reader_stats r;
        sl_reader_stats(s->c[i]->rd, &r);
        sl_src_add_input(&st->input, &r);
    }
    st->connections = s->accepted;
    st->refused = s->refused;
}

static void tcp_set_wait(void *be, int ms)
{
    ((struct tsrc *)be)->wait_ms = ms;
}

static int tcp_close_input(void *be)
{
    struct tsrc *s = be;
    s->closing = 1;
    if (s->lfd >= 0) {
        accept_all(s); /* connections the kernel completed are already accepted input */
        close(s->lfd);
        s->lfd = -1;
    }
    return 0;
}

static const char *tcp_endpoint(const void *be)
{
    const struct tsrc *s = be;
    return s->lfd >= 0 ? s->endpoint : NULL;
}

static void tcp_close_be(void **be)
{
    struct tsrc *s = *be;
    if (!s)
        return;
    while (s->nc > 0)
        drop_conn(s, s->nc - 1);
    if (s->lfd >= 0)
        close(s->lfd);
    if (s->ep >= 0)
        close(s->ep);
    free(s->c);
    sl_src_attrs_free(&s->attrs);
    free(s);
    *be = NULL;
}

static uint64_t *tcp_attrs(void *be)
{
    return sl_src_attrs_get(&((struct tsrc *)be)->attrs);
}

const struct source_ops sl_src_tcp_ops = {
    .check = tcp_check,
    .open = tcp_open,
    .read = tcp_read,
    .fd = tcp_fd,
    .stats = tcp_stats,
    .close = tcp_close_be,
    .set_wait = tcp_set_wait,
    .close_input = tcp_close_input,
    .endpoint = tcp_endpoint,
    .attrs = tcp_attrs,
};
