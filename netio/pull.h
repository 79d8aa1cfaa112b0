/* A bare ZeroMQ PULL socket for outside producers (the zmq source kind of host/io): messages are
 * plain bytes, not sluice frames, and nothing is acknowledged. It has a ZeroMQ context of its
 * own, so a caller needs no other netio object. No CURVE: bind it to a trusted interface.
 *
 * Errors are -1 with errno (netio sits below host/base, docs/architecture.md). One thread owns a
 * puller. */
#ifndef SL_PULL_H
#define SL_PULL_H

#include <stddef.h>

typedef struct sl_pull sl_pull;

/* Binds a PULL socket at endpoint ("tcp://127.0.0.1:5600", "tcp://0.0.0.0:5600", "ipc:///tmp/x";
 * port "*" picks a free one, see sl_pull_endpoint). Messages larger than max_msg bytes (0: no
 * limit) make ZeroMQ drop the sender's connection without reading them. hwm: messages queued
 * (0: ZeroMQ's default). Returns NULL with errno and the reason in err. */
sl_pull *sl_pull_bind(const char *endpoint, size_t max_msg, int hwm, char *err, size_t errlen);

/* The endpoint bound, with the port chosen ("tcp://127.0.0.1:40123"). */
const char *sl_pull_endpoint(const sl_pull *p);

/* Takes the next message without waiting: returns its size with *data pointing at its bytes
 * (valid until the next sl_pull_recv or sl_pull_close), or -1 with errno EAGAIN when none is
 * queued (or another errno). Parts of a multipart message come one by one. */
long sl_pull_recv(sl_pull *p, const char **data);

/* The sender's address of the message last received ("127.0.0.1:51234"), or "" when the
 * transport has none (ipc, inproc). */
const char *sl_pull_peer(const sl_pull *p);

/* Waits up to timeout_ms (-1: no limit) for a message. Returns 1 when one is queued, 0 on
 * timeout or a signal, -1 with errno. */
int sl_pull_wait(sl_pull *p, long timeout_ms);

/* ZeroMQ's ZMQ_FD: it becomes readable when the socket's state may have changed; once
 * sl_pull_recv has returned -1 (EAGAIN), it becomes readable when a message arrives. */
int sl_pull_fd(const sl_pull *p);

/* Stops listening: no new connection is accepted. Messages already queued can still be
 * received until sl_pull_recv returns EAGAIN. Returns 0, or -1 with errno. */
int sl_pull_unbind(sl_pull *p);

/* Closes the socket (dropping what is queued) and the context; sets *pp NULL. */
void sl_pull_close(sl_pull **pp);

#endif
