/* Who may talk to a cluster: the cluster's CURVE key pair and a ZAP handler that admits only
 * peers presenting it.
 *
 * Security model (docs/cluster.md): every node and client of a cluster holds the same key pair,
 * made once by `sluice keygen DIR` and named in the cluster file (curve: {keys: DIR}). Binding
 * sockets are CURVE servers with its secret key, connecting sockets CURVE clients that present
 * it; the ZAP handler of each process rejects any client whose public key is not the cluster's.
 * So traffic is encrypted and authenticated, and whoever can read the key folder is a member.
 *
 * Key folder: DIR/cluster.key (mode 0600: "public = Z85" and "secret = Z85" lines) and
 * DIR/cluster.pub (the public key alone, for reference). */
#ifndef SL_AUTH_H
#define SL_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "sock.h"

/* Makes a new key pair in folder `dir` (created with mode 0700 when missing). Refuses to
 * replace existing keys unless `force`. Returns 0, or with the reason in err: SL_EEXIST (keys
 * there and no `force`), SL_EIO (the folder or files cannot be written), SL_EUNSUPPORTED (a
 * libzmq without CURVE). Any thread. */
int sl_keys_generate(const char *dir, int force, char *err, size_t errlen);

/* Reads DIR/cluster.key into o (o->curve = 1, both keys). Returns 0, or with the reason (which
 * names the file) in err: SL_EIO (it cannot be read), SL_ECONFIG (others may read it), SL_EPARSE
 * (a key that is not 40 Z85 characters, public and secret keys that do not belong together).
 * Any thread. */
int sl_keys_load(const char *dir, sl_net_opts *o, char *err, size_t errlen);

typedef struct sl_zap sl_zap;

/* Starts a ZAP handler (a thread) for ZeroMQ context `zctx` admitting CURVE clients whose public
 * key is o->curve_public; does nothing (returns 0, *out NULL) when !o->curve. Must run before
 * the context's first CURVE server socket binds. Returns 0 with the handler in *out, or with
 * *out NULL and the reason in err: SL_EINVAL (the key is not Z85), SL_EIO (the handler's socket
 * or thread cannot be made), SL_ENOMEM. */
int sl_zap_new(void *zctx, const sl_net_opts *o, sl_zap **out, char *err, size_t errlen);

/* Handshakes refused so far (wrong key or mechanism). Any thread. */
uint64_t sl_zap_refused(const sl_zap *z);

/* Stops the handler and frees it, as the context ends: it shuts the context down
 * (zmq_ctx_shutdown: every socket still open in it fails with ETERM from then on), so call it
 * only right before zmq_ctx_term, with the context's sockets closed. Sets *zp to NULL. */
void sl_zap_destroy(sl_zap **zp);

#endif
