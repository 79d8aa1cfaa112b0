/* A plain NDJSON file read once, parsed by a pool of threads (source type file, format ndjson,
 * source.threads other than 1); docs/engine.md "Parallel ingest" says why and what it gains.
 *
 * Chunks. The file from its first byte (a resume's offset) is cut into chunks of about
 * chunk_bytes (source.chunk_bytes, default 4 MiB): chunk k holds the lines that start in bytes
 * [from + k * C, from + (k + 1) * C), so a chunk is whole lines, every line is in exactly one
 * chunk, and a line longer than C belongs to the chunk it starts in (the chunks it covers hold
 * nothing). Each worker finds its chunk's ends itself: the first line start at or after the
 * chunk's first byte (1 + the first '\n' at or after the byte before it), and the first '\n' at
 * or after its last byte. So chunk k ends where chunk k + 1 begins, with no pass over the file
 * before the workers start.
 *
 * Workers. Each worker has a chunked reader (sl_reader_new_chunked, restarted per chunk, its
 * buffer reserved at 1 MiB) and a dictionary of its own. It preads its chunk into the reader's
 * buffer and keeps, per chunk: the records (with their schema.attributes words); the ids its
 * dictionary learnt in that chunk (sl_addict_entry_put entries); the malformed lines its reader
 * reported (line numbered by the chunk's reader, column, file byte offset, reason, and the reader's
 * counters with that line); and cut points, every PAR_CUT records, where the reader's counters are
 * known for the records before them.
 *
 * Order. Parsed chunks wait in a ring of 2 x threads slots; a worker takes chunk k only once
 * chunk k - ring was handed out, so memory stays bounded. sl_source_read's thread hands chunks
 * out strictly in file order: before a chunk's first record it interns the chunk's ids into the
 * source's dictionary (so the sink can name every key it gets), then gives its records and
 * reports in the order the reader made them, each report's line number moved on by the lines
 * of the chunks before (known once those were handed out). A read returns at a cut point, a
 * report, a chunk's end or just before a report (when buf is full there), where the counters
 * are those of the text up to the byte they name: a checkpoint taken between two reads resumes
 * exactly there. Records, ids (and the order they are learnt in), reports and final counters
 * equal sl_reader's over the whole file (tests/test_parallel.c). Only a caller reading fewer
 * records at a time than a cut holds (PAR_CUT + SL_EV_NTYPES - 1) gets counters that lag until
 * the cut; the pipeline reads 65,536, a cluster node 16,384.
 *
 * Two ids with one hash. A worker's reader reports a line whose id collides with one in its own
 * dictionary, as a single reader would. A collision with an id of the source's dictionary (learnt
 * from an earlier chunk of another worker, a checkpoint or a join table) shows when a chunk's ids
 * are interned: the worker took the later id where the file's order says the earlier one wins.
 * From that chunk on the pool gives way to one sl_reader over the file (resumed at the chunk's
 * first byte with the counters so far), which reports it as the single reader does. No earlier
 * chunk can hold the later id unnoticed: the first chunk that holds an id is the first that
 * carries it (its worker had not seen it), and ids interned from the chunk before the collision
 * are those the reader would learn first in it anyway.
 *
 * A cluster node's part of a file (host/io/slice.h) is read as the file is: the input's byte b
 * is the file's byte lo + b, preaded from the part's descriptor (sl_slice_range), and the input
 * ends at the part's end. Offsets, line numbers and counters are the part's, as the one reader
 * over the part's FILE gives them. While the pool reads, sl_source_fd is an eventfd written
 * whenever a chunk is parsed, so that a node's loop (host/cluster/node.c) sleeps in its poll
 * until there is something to hand out instead of asking again and again.
 *
 * What is read by one reader instead (logged at info): one thread (source.threads: 1, or one
 * CPU), an input that is not a regular file (a pipe), a FILE moved from its start without
 * sl_source_resume, and compressed input (gzip and zstd are decoded as a stream: a byte range of
 * them is not text). CSV (a quoted field may hold newlines, so a raw '\n' need not end a record)
 * and followed files never come here (source.c). A resumed run (sl_source_resume) cuts its
 * chunks from the checkpoint's offset. The file's size is taken when the first read starts the
 * pool: bytes appended later are not read.
 *
 * Threading: the ops run on the source's thread; the workers touch only their own reader,
 * dictionary and the chunk they hold, and the ring's states under the mutex. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "decomp.h"
#include "err.h"
#include "log.h"
#include "slice.h"
#include "srcbe.h"

#define PAR_THREADS_MAX 64 /* source.threads */
#define PAR_AUTO_MAX 8     /* threads: 0 takes the online CPUs, at most this many */
#define PAR_CHUNK_DEFAULT ((uint64_t)4 << 20)
#define PAR_CHUNK_MAX ((uint64_t)1 << 30)
#define PAR_CUT 1024                  /* records between cut points */
#define PAR_PIECE ((size_t)1 << 20)   /* a worker's reader buffer: bytes per pread */
#define PAR_TAIL ((uint64_t)16 << 10) /* bytes read past a chunk's end at first, for its '\n' */
#define PAR_PROBE ((uint64_t)4 << 10) /* bytes read at first looking for a chunk's first line */

enum { SLOT_FREE, SLOT_BUSY, SLOT_READY };

/* A point of a chunk where the reader's counters are known: after `rec` records and `nbad`
 * reports. */
struct cut {
    size_t rec, nbad;
    struct sl_reader_stats st;
};

/* A malformed line as the worker's reader reported it. */
struct report {
    size_t rec;    /* records of the chunk before the line */
    uint64_t line; /* numbered by the chunk's reader (from st0.lines) */
    size_t column;
    uint64_t byte;             /* offset in the file */
    size_t why;                /* the reason: at text + why */
    struct sl_reader_stats st; /* the reader's counters, the line included */
};

/* A slot of the ring: one chunk, parsed or being parsed. Its arrays are kept for later chunks. */
struct chunk {
    int state;    /* SLOT_*, under the mutex */
    uint64_t seq; /* the chunk's number */
    int rc;       /* 0, or what stopped its parse (SL_EIO, SL_ENOMEM): handed on after it */
    struct sl_reader_stats st0; /* the reader's counters at the chunk's start */
    sl_rec *rec;
    size_t nrec, caprec;
    uint64_t *attr; /* schema.attributes: nattr words per record of rec[] (none without) */
    size_t capattr; /* records attr has room for */
    struct cut *cut;
    size_t ncut, capcut;
    struct report *bad;
    size_t nbad, capbad;
    char *text;
    size_t ntext, captext;
    unsigned char *ids;
    size_t nids, capids;
};

struct par;

struct worker {
    struct par *p;
    pthread_t tid;
    sl_reader *rd;
    sl_addict *dict;
    size_t cursor;     /* ids of dict already put into a chunk */
    struct chunk *cur; /* the chunk being parsed, for worker_bad */
    int oom;           /* a report could not be kept */
};

struct par {
    FILE *in;
    int fd;
    int part;          /* in is a node's part of the file (sl_slice_range): fd is its descriptor */
    uint64_t base;     /* the file's offset of the input's byte 0: the part's first byte, or 0 */
    uint64_t part_len; /* the part's bytes */
    int evfd;          /* written when a chunk is parsed (sl_source_fd while the pool reads) */
    sl_addict *dict;   /* the source's */
    sl_bad_fn on_bad;
    void *bad_ud;
    sl_schema schema;
    uint32_t nattr; /* schema.attributes per record (0: none) */
    unsigned nthreads;
    uint64_t chunk_bytes;
    int wait_ms;
    sl_reader *single; /* set: the pool is not used, or gave way; everything goes here */

    /* the pool, made by the first read */
    int started;
    int resumed;                    /* sl_source_resume said where to start */
    off_t pos0;                     /* where the FILE stood when the source was opened */
    uint64_t from;                  /* the first chunk's first byte */
    struct sl_reader_stats from_st; /* the counters there (a resume's; zero at the start) */
    uint64_t size;                  /* the file's size then */
    uint64_t nchunks;
    pthread_mutex_t mu;
    pthread_cond_t work;  /* workers wait: a slot came free, or stop */
    pthread_cond_t ready; /* the reading thread waits: a chunk was parsed */
    int sync_made;
    uint64_t next_take; /* the next chunk a worker takes */
    int stop;
    struct chunk *ring;
    unsigned nring;
    struct worker *w;
    unsigned nw; /* workers started */

    /* the reading thread's side */
    uint64_t next_use;           /* the next chunk handed out */
    struct chunk *cur;           /* the chunk being handed out (NULL: none) */
    size_t at, bi, ci;           /* in cur: the next record, report and cut */
    struct sl_reader_stats done; /* the counters after the chunks before cur */
    struct sl_reader_stats now;  /* the counters at the last point handed out */
    uint64_t *out;               /* the attributes of the last read's records (nattr each) */
    int last_single;             /* the last read's records came from `single` */
    size_t capout;               /* records out has room for */
    int failed;                  /* sticky error */
};

/* Chunk number at which the pool gives way as if two ids had collided (tests only). */
static uint64_t force_give_way = UINT64_MAX;

void sl_src_par_test_give_way(uint64_t chunk)
{
    force_give_way = chunk;
}

/* ---- growing a chunk's arrays ------------------------------------------------------------ */

/* Makes room for `more` items after the n used of the array whose pointer is at pp (*cap items
 * of `size` bytes; NULL and 0 at first, then `min`), doubling. The pointer is read and written
 * with memcpy, so that one function serves arrays of every type. Returns 0 or SL_ENOMEM (the
 * array as it was). */
static int room_for(void *pp, size_t *cap, size_t n, size_t more, size_t size, size_t min)
{
    if (*cap - n >= more)
        return 0;
    size_t ncap = *cap ? *cap : min;
    while (ncap - n < more) {
        if (ncap > SIZE_MAX / 2 / size)
            return SL_ENOMEM;
        ncap *= 2;
    }
    void *p;
    memcpy(&p, pp, sizeof p);
    void *q = realloc(p, ncap * size);
    if (!q)
        return SL_ENOMEM;
    memcpy(pp, &q, sizeof q);
    *cap = ncap;
    return 0;
}

/* ---- a worker ------------------------------------------------------------------------------ */

/* The reader's malformed-line callback: the report is kept with the chunk; never stops. */
static int worker_bad(void *ud, uint64_t line, size_t column, uint64_t byte, const char *reason)
{
    struct worker *w = ud;
    struct chunk *c = w->cur;
    size_t len = strlen(reason) + 1;
    if (room_for(&c->bad, &c->capbad, c->nbad, 1, sizeof *c->bad, 16) ||
        room_for(&c->text, &c->captext, c->ntext, len, 1, 1024)) {
        w->oom = 1;
        return 0;
    }
    struct report *b = &c->bad[c->nbad++];
    sl_reader_stats(w->rd, &b->st);
    b->rec = (size_t)(b->st.records - c->st0.records);
    b->line = line;
    b->column = column;
    b->byte = byte;
    b->why = c->ntext;
    memcpy(c->text + c->ntext, reason, len);
    c->ntext += len;
    return 0;
}

/* Adds a cut point after the chunk's records and reports so far, with counters st. */
static int add_cut(struct chunk *c, const struct sl_reader_stats *st)
{
    if (room_for(&c->cut, &c->capcut, c->ncut, 1, sizeof *c->cut, 64))
        return SL_ENOMEM;
    c->cut[c->ncut++] = (struct cut){.rec = c->nrec, .nbad = c->nbad, .st = *st};
    return 0;
}

/* Reads n bytes at offset off of the input (off + p->base of the file) into dst, as many as there
 * are. Returns the count (short only at the file's end), or SL_EIO. */
static long pread_all(const struct par *p, char *dst, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = pread(p->fd, dst + got, n - got, (off_t)(p->base + off + got));
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return SL_EIO;
        if (k == 0)
            break;
        got += (size_t)k;
    }
    return (long)got;
}

/* The first line start at or after byte x > 0: 1 + the first '\n' at or after byte x - 1, or
 * the file's size when there is none. Looks through the reader's free buffer, in windows that
 * double from PAR_PROBE. Returns 0 with *start, or SL_EIO or SL_ENOMEM. */
static int line_start(struct worker *w, uint64_t x, uint64_t *start)
{
    const struct par *p = w->p;
    size_t room = 0;
    char *buf = sl_reader_room(w->rd, &room);
    if (!buf || room == 0)
        return SL_ENOMEM;
    uint64_t pos = x - 1, want = PAR_PROBE;
    while (pos < p->size) {
        size_t n = (size_t)(want < room ? want : room);
        if (n > p->size - pos)
            n = (size_t)(p->size - pos);
        long k = pread_all(p, buf, n, pos);
        if (k < 0)
            return (int)k;
        if (k == 0)
            break; /* the file shrank */
        char *nl = memchr(buf, '\n', (size_t)k);
        if (nl) {
            *start = pos + (uint64_t)(nl - buf) + 1;
            return 0;
        }
        pos += (uint64_t)k;
        want *= 2;
    }
    *start = p->size;
    return 0;
}

/* Copies the attribute words of the m records the worker's reader just gave after the chunk's
 * records (room made by take_records). */
static void take_attrs(struct worker *w, struct chunk *c, size_t m)
{
    const size_t na = w->p->nattr;
    if (na && m)
        memcpy(c->attr + c->nrec * na, sl_reader_attrs(w->rd), m * na * sizeof *c->attr);
}

/* Takes every record the reader has into the chunk, with a cut point after each PAR_CUT or so:
 * when a line's records did not all fit, the rest (at most SL_EV_NTYPES - 1, in the reader's
 * stash) are taken first, so that the cut falls at the end of a line. Returns 0 or an sl_err. */
static int take_records(struct worker *w, struct chunk *c)
{
    const size_t na = w->p->nattr;
    for (;;) {
        if (room_for(&c->rec, &c->caprec, c->nrec, PAR_CUT + SL_EV_NTYPES, sizeof *c->rec, 4096))
            return SL_ENOMEM;
        if (na && c->capattr < c->caprec) { /* room for the words of every record rec has */
            uint64_t *a = realloc(c->attr, c->caprec * na * sizeof *a);
            if (!a)
                return SL_ENOMEM;
            c->attr = a;
            c->capattr = c->caprec;
        }
        long m = sl_reader_read(w->rd, c->rec + c->nrec, PAR_CUT);
        if (m < 0)
            return (int)m;
        take_attrs(w, c, (size_t)m);
        c->nrec += (size_t)m;
        if (m > 0) {
            struct sl_reader_stats st;
            sl_reader_stats(w->rd, &st);
            size_t stashed = (size_t)(st.records - c->st0.records) - c->nrec;
            if (stashed > 0) {
                long more = sl_reader_read(w->rd, c->rec + c->nrec, stashed);
                if (more < 0)
                    return (int)more;
                take_attrs(w, c, (size_t)more);
                c->nrec += (size_t)more;
            }
            if (add_cut(c, &st))
                return SL_ENOMEM;
        }
        if (m < PAR_CUT)
            return w->oom ? SL_ENOMEM : 0;
    }
}

/* Feeds the chunk's lines from byte `start` to the reader: up to the first '\n' at or after byte
 * hi - 1 (or the file's end), and takes their records. Returns 0 or an sl_err. */
static int read_lines(struct worker *w, struct chunk *c, uint64_t start, uint64_t hi)
{
    const struct par *p = w->p;
    uint64_t pos = start, tail = PAR_TAIL;
    int end = 0;
    while (!end) {
        size_t room = 0;
        char *dst = sl_reader_room(w->rd, &room);
        if (!dst || room == 0)
            return SL_ENOMEM; /* a reader with lines left keeps no room only when it failed */
        /* up to the chunk's end and a little past it, where its last line ends */
        uint64_t want = (hi > pos ? hi - pos : 0) + tail;
        if (want > p->size - pos)
            want = p->size - pos;
        if (want > room)
            want = room;
        if (pos >= hi)
            tail *= 2; /* a long last line: look further each time */
        long got = want ? pread_all(p, dst, (size_t)want, pos) : 0;
        if (got < 0)
            return (int)got;
        if (got == 0) {
            end = 1; /* the file's end (or it shrank) */
        } else {
            if (pos + (uint64_t)got >= hi) {
                uint64_t from = pos > hi - 1 ? pos : hi - 1;
                char *nl = memchr(dst + (from - pos), '\n', (size_t)(pos + (uint64_t)got - from));
                if (nl) {
                    got = nl - dst + 1;
                    end = 1;
                }
            }
            sl_reader_commit(w->rd, (size_t)got);
            pos += (uint64_t)got;
            if (pos >= p->size)
                end = 1;
        }
        if (end)
            sl_reader_end(w->rd);
        int rc = take_records(w, c);
        if (rc)
            return rc;
    }
    return 0;
}

/* Parses chunk k into c. Any failure is kept in c->rc; what was parsed before it stays. */
static void parse_chunk(struct worker *w, uint64_t k, struct chunk *c)
{
    const struct par *p = w->p;
    c->nrec = c->ncut = c->nbad = c->ntext = c->nids = 0;
    c->rc = 0;
    w->oom = 0;
    w->cur = c;
    uint64_t lo = p->from + k * p->chunk_bytes;
    uint64_t hi = p->size - lo > p->chunk_bytes ? lo + p->chunk_bytes : p->size;
    uint64_t start = lo;
    sl_reader_restart(w->rd, k == 0);
    int rc = k > 0 ? line_start(w, lo, &start) : 0;
    /* chunk 0 goes on from the run's counters (a resume's), the others count from zero at their
     * first byte: the reading thread adds the lines before them */
    c->st0 = k == 0 ? p->from_st : (struct sl_reader_stats){.bytes = start};
    sl_reader_resume(w->rd, &c->st0);
    if (rc == 0 && start < hi)
        rc = read_lines(w, c, start, hi);
    struct sl_reader_stats st;
    sl_reader_stats(w->rd, &st);
    if (add_cut(c, &st) && rc == 0)
        rc = SL_ENOMEM;
    uint64_t key;
    const char *id;
    size_t len;
    while (sl_addict_next(w->dict, &w->cursor, &key, &id, &len)) {
        while (!sl_addict_entry_put(c->ids, c->capids, &c->nids, key, id, len)) {
            size_t need = c->capids + len + 12;
            if (room_for(&c->ids, &c->capids, c->nids, need - c->nids, 1, 4096)) {
                rc = SL_ENOMEM;
                break;
            }
        }
    }
    c->rc = rc;
}

/* Makes the eventfd readable (sl_source_fd while the pool reads): there is something to hand
 * out. */
static void signal_ready(const struct par *p)
{
    if (p->evfd < 0)
        return;
    uint64_t one = 1;
    ssize_t wr = write(p->evfd, &one, sizeof one);
    (void)wr; /* only a counter at its maximum refuses it, and then it is readable */
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct par *p = w->p;
    if (sl_reader_reserve(w->rd, PAR_PIECE))
        SL_DEBUG("source", "a parse thread keeps its reader's small buffer (out of memory)");
    for (;;) {
        struct chunk *c = NULL;
        uint64_t k = 0;
        pthread_mutex_lock(&p->mu);
        while (!p->stop && p->next_take < p->nchunks &&
               p->ring[p->next_take % p->nring].state != SLOT_FREE)
            pthread_cond_wait(&p->work, &p->mu);
        if (!p->stop && p->next_take < p->nchunks) {
            k = p->next_take++;
            c = &p->ring[k % p->nring];
            c->state = SLOT_BUSY;
            c->seq = k;
        }
        pthread_mutex_unlock(&p->mu);
        if (!c)
            return NULL;
        parse_chunk(w, k, c);
        pthread_mutex_lock(&p->mu);
        c->state = SLOT_READY;
        pthread_cond_signal(&p->ready);
        pthread_mutex_unlock(&p->mu);
        signal_ready(p);
    }
}

/* ---- the pool ----------------------------------------------------------------------------- */

/* Stops and joins the workers (a chunk being parsed is finished first). */
static void stop_pool(struct par *p)
{
    if (!p->sync_made)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nw; i++)
        pthread_join(p->w[i].tid, NULL);
    p->nw = 0;
}

/* One sl_reader over the whole file, resumed at the counters handed out so far (the start of
 * the chunk that was not handed out): the pool is not used or gives way. Returns 0 or an
 * sl_err (the reader's, which it also keeps). */
static int give_way(struct par *p, const char *why)
{
    stop_pool(p);
    SL_INFO("source", "%s is read by one thread from byte %llu: %s",
            p->started ? "the file" : "the input", (unsigned long long)p->now.bytes, why);
    p->cur = NULL;
    p->single = sl_reader_new(p->in, SL_FMT_NDJSON, p->dict, 0);
    if (!p->single)
        return SL_ENOMEM;
    sl_reader_set_schema(p->single, &p->schema);
    sl_reader_on_bad(p->single, p->on_bad, p->bad_ud);
    sl_reader_set_wait(p->single, p->wait_ms);
    return p->started || p->now.bytes ? sl_reader_resume(p->single, &p->now) : 0;
}

/* Makes the ring and the workers (the first read). Returns 0 or an sl_err; with no worker
 * started, the pool gives way. */
static int start_pool(struct par *p)
{
    p->started = 1;
    if (!p->resumed && p->pos0 != 0) /* one reader reads from there, counting from 0 */
        return give_way(p, "not read from its start");
    struct stat sb;
    if (!p->part && fstat(p->fd, &sb) != 0)
        return SL_EIO;
    uint64_t size = p->part ? p->part_len : (uint64_t)sb.st_size;
    p->size = size > p->from ? size : p->from;
    p->nchunks = (p->size - p->from + p->chunk_bytes - 1) / p->chunk_bytes;
    p->done = p->now = p->from_st;
    p->nring = 2 * p->nthreads;
    p->ring = calloc(p->nring, sizeof *p->ring);
    p->w = calloc(p->nthreads, sizeof *p->w);
    if (!p->ring || !p->w)
        return SL_ENOMEM;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->ready, &ca);
    pthread_condattr_destroy(&ca);
    p->sync_made = 1;
    p->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); /* none: sl_source_fd says -1 */
    (void)sl_log_enabled(SL_LOG_DEBUG, "source");     /* the logger reads SLUICE_LOG here, once */
    /* The workers take no signals: the thread that reads the source handles them. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (unsigned i = 0; i < p->nthreads; i++) {
        struct worker *w = &p->w[p->nw];
        w->p = p;
        w->dict = sl_addict_new();
        w->rd = sl_reader_new_chunked(SL_FMT_NDJSON, w->dict, 0);
        if (!w->dict || !w->rd) {
            sl_reader_destroy(&w->rd);
            sl_addict_destroy(&w->dict);
            break;
        }
        sl_reader_set_schema(w->rd, &p->schema);
        sl_reader_on_bad(w->rd, worker_bad, w);
        if (pthread_create(&w->tid, NULL, worker_main, w) != 0) {
            sl_reader_destroy(&w->rd);
            sl_addict_destroy(&w->dict);
            break;
        }
        p->nw++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (p->nw == 0)
        return give_way(p, "no parse thread could be started");
    SL_DEBUG("source", "%u parse threads, %llu chunks of %llu bytes from byte %llu", p->nw,
             (unsigned long long)p->nchunks, (unsigned long long)p->chunk_bytes,
             (unsigned long long)p->from);
    return 0;
}

/* The next chunk in file order once it is parsed, waiting at most ms; NULL when it is not. */
static struct chunk *wait_chunk(struct par *p, int ms)
{
    struct chunk *c = &p->ring[p->next_use % p->nring];
    if (p->evfd >= 0) { /* emptied before the look: a chunk parsed after it writes it again */
        uint64_t v;
        ssize_t rd = read(p->evfd, &v, sizeof v);
        (void)rd;
    }
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&p->mu);
    while (!(c->state == SLOT_READY && c->seq == p->next_use) && ms > 0 &&
           pthread_cond_timedwait(&p->ready, &p->mu, &until) != ETIMEDOUT)
        ;
    int ok = c->state == SLOT_READY && c->seq == p->next_use;
    pthread_mutex_unlock(&p->mu);
    return ok ? c : NULL;
}

/* Hands chunk c's slot back to the workers. */
static void release(struct par *p, struct chunk *c)
{
    pthread_mutex_lock(&p->mu);
    c->state = SLOT_FREE;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    p->cur = NULL;
    p->next_use++;
}

/* Interns chunk c's ids into the source's dictionary. Returns 0, SL_ECOLLISION (an id whose key
 * the dictionary holds for another id), or SL_ENOMEM or SL_EPARSE. */
static int take_ids(struct par *p, const struct chunk *c)
{
    if (c->seq == force_give_way)
        return SL_ECOLLISION;
    size_t at = 0, len;
    uint64_t key, k;
    const char *id;
    int r;
    while ((r = sl_addict_entry_get(c->ids, c->nids, &at, &key, &id, &len)) == 1) {
        int rc = sl_addict_intern(p->dict, id, len, &k);
        if (rc)
            return rc;
    }
    return r < 0 ? SL_EPARSE : 0;
}

/* The run's counters at a point of the current chunk whose reader's counters were st. */
static struct sl_reader_stats at_point(const struct par *p, const struct sl_reader_stats *st)
{
    const struct sl_reader_stats *b = &p->done, *z = &p->cur->st0;
    return (struct sl_reader_stats){.lines = b->lines + st->lines - z->lines,
                                    .records = b->records + st->records - z->records,
                                    .bad = b->bad + st->bad - z->bad,
                                    .blank = b->blank + st->blank - z->blank,
                                    .bytes = st->bytes};
}

/* ---- the source backend ------------------------------------------------------------------ */

/* At the end of a read from the pool: the eventfd is written again when the next read has
 * something without waiting (records left in the current chunk, the next chunk parsed, or the
 * end to report), since wait_chunk emptied it and a worker that finished earlier will not write
 * it again: a loop polling sl_source_fd would otherwise sleep with records ready. */
static void rearm(struct par *p)
{
    if (p->evfd < 0)
        return;
    int more = p->cur != NULL || p->next_use == p->nchunks;
    if (!more) {
        pthread_mutex_lock(&p->mu);
        const struct chunk *c = &p->ring[p->next_use % p->nring];
        more = c->state == SLOT_READY && c->seq == p->next_use;
        pthread_mutex_unlock(&p->mu);
    }
    if (more)
        signal_ready(p);
}

static long par_read(void *be, sl_rec *buf, size_t cap, int *end)
{
    struct par *p = be;
    *end = 0;
    p->last_single = p->single != NULL;
    if (p->single) {
        long n = sl_reader_read(p->single, buf, cap);
        *end = n == 0 && sl_reader_at_end(p->single);
        return n;
    }
    if (p->failed)
        return p->failed;
    int rc = 0;
    if (p->nattr && p->capout < cap) { /* the read's words, beside buf */
        uint64_t *o = realloc(p->out, cap * p->nattr * sizeof *o);
        if (!o) {
            rc = SL_ENOMEM;
            goto fail;
        }
        p->out = o;
        p->capout = cap;
    }
    if (!p->started && (rc = start_pool(p)))
        goto fail;
    if (p->single)
        return par_read(be, buf, cap, end);
    size_t n = 0;
    for (;;) {
        if (!p->cur) {
            if (p->next_use == p->nchunks) {
                *end = n == 0;
                break;
            }
            if (n == cap)
                break;
            struct chunk *c = wait_chunk(p, n > 0 ? 0 : p->wait_ms);
            if (!c)
                break;
            rc = take_ids(p, c);
            if (rc == SL_ECOLLISION) {
                if ((rc = give_way(p, "two ids of different threads share a 64-bit key")))
                    goto fail;
                return n > 0 ? (long)n : par_read(be, buf, cap, end);
            }
            if (rc)
                goto fail;
            p->cur = c;
            p->at = p->bi = p->ci = 0;
        }
        struct chunk *c = p->cur;
        if (p->ci == c->ncut) { /* every record, report and cut handed out */
            p->done = p->now;
            rc = c->rc;
            release(p, c);
            if (rc) {
                SL_ERROR("reader", "reading input: %s", sl_strerror(rc));
                p->failed = rc;
                return n > 0 ? (long)n : rc;
            }
            continue;
        }
        const struct cut *cut = &c->cut[p->ci];
        if (p->bi < cut->nbad && c->bad[p->bi].rec == p->at) {
            /* A report due here comes before the cut that counts it. When buf is full it waits
             * for the next read, as sl_reader_read stops before the line after its last record,
             * and the counters stop at that line's start. */
            const struct report *b = &c->bad[p->bi];
            p->now = at_point(p, &b->st);
            if (n == cap) {
                p->now.lines--;
                p->now.bad--;
                p->now.bytes = b->byte - (b->column - 1);
                break;
            }
            p->bi++;
            uint64_t line = p->done.lines + b->line - c->st0.lines;
            if (p->on_bad && p->on_bad(p->bad_ud, line, b->column, b->byte, c->text + b->why))
                return SL_EPARSE; /* as sl_reader_read: this call's records are dropped */
            continue;
        }
        if (cut->rec == p->at && cut->nbad == p->bi) {
            p->now = at_point(p, &cut->st);
            p->ci++;
            continue;
        }
        if (n == cap)
            break;
        size_t upto = cut->rec;
        if (p->bi < c->nbad && c->bad[p->bi].rec < upto)
            upto = c->bad[p->bi].rec;
        size_t k = upto - p->at;
        if (k > cap - n) {
            if (n > 0)
                break; /* a read ends where the counters are known */
            k = cap;   /* cap is less than a cut's records: the counters wait for the cut */
        }
        memcpy(buf + n, c->rec + p->at, k * sizeof *buf);
        if (p->nattr)
            memcpy(p->out + n * p->nattr, c->attr + p->at * p->nattr,
                   k * p->nattr * sizeof *p->out);
        n += k;
        p->at += k;
    }
    rearm(p);
    return (long)n;
fail:
    p->failed = rc;
    SL_ERROR("reader", "reading input: %s", sl_strerror(rc));
    return rc;
}

static int par_fd(const void *be)
{
    const struct par *p = be;
    return p->single ? sl_reader_fd(p->single) : p->evfd;
}

static void par_stats(const void *be, sl_source_stats *st)
{
    const struct par *p = be;
    if (p->single)
        sl_reader_stats(p->single, &st->input);
    else
        st->input = p->now;
}

static void par_set_wait(void *be, int ms)
{
    struct par *p = be;
    p->wait_ms = ms;
    if (p->single)
        sl_reader_set_wait(p->single, ms);
}

static int par_resume(void *be, const struct sl_reader_stats *st)
{
    struct par *p = be;
    if (p->single)
        return sl_reader_resume(p->single, st);
    if (p->started)
        return SL_EINVAL; /* after the first read */
    p->resumed = 1;
    p->from = st->bytes;
    p->from_st = p->now = *st;
    return 0;
}

static void par_close(void **be)
{
    struct par *p = *be;
    if (!p)
        return;
    stop_pool(p);
    for (unsigned i = 0; i < p->nthreads && p->w; i++) {
        sl_reader_destroy(&p->w[i].rd);
        sl_addict_destroy(&p->w[i].dict);
    }
    for (unsigned i = 0; i < p->nring && p->ring; i++) {
        struct chunk *c = &p->ring[i];
        free(c->rec);
        free(c->attr);
        free(c->cut);
        free(c->bad);
        free(c->text);
        free(c->ids);
    }
    if (p->sync_made) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->work);
        pthread_cond_destroy(&p->ready);
    }
    free(p->ring);
    free(p->w);
    free(p->out);
    sl_reader_destroy(&p->single);
    if (p->evfd >= 0)
        close(p->evfd);
    free(p);
    *be = NULL;
}

int sl_src_par_threads(const sl_topology *t, unsigned *threads, uint64_t *chunk_bytes, char *msg,
                       size_t msglen)
{
    uint64_t n = 0, c = PAR_CHUNK_DEFAULT;
    int rc = sl_opts_u64(&t->source.opts, "source", "threads", 0, PAR_THREADS_MAX, &n, msg, msglen);
    if (rc == 0)
        rc = sl_opts_u64(&t->source.opts, "source", "chunk_bytes", 1, PAR_CHUNK_MAX, &c, msg,
                         msglen);
    if (rc)
        return rc;
    if (n == 0) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        n = cpus < 1 ? 1 : cpus > PAR_AUTO_MAX ? PAR_AUTO_MAX : (uint64_t)cpus;
    }
    *threads = (unsigned)n;
    if (chunk_bytes)
        *chunk_bytes = c;
    return 0;
}

static int par_open(const sl_topology *t, FILE *in, sl_addict *dict, sl_bad_fn on_bad, void *bad_ud,
                    void **be, char *msg, size_t msglen)
{
    struct par *p = calloc(1, sizeof *p);
    if (!p) {
        snprintf(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    int rc = sl_src_par_threads(t, &p->nthreads, &p->chunk_bytes, msg, msglen);
    if (rc) {
        free(p);
        return rc;
    }
    p->in = in;
    p->fd = in ? fileno(in) : -1;
    p->evfd = -1;
    uint64_t at = 0;
    if (in && p->fd < 0 && sl_slice_range(in, &p->fd, &p->base, &p->part_len, &at)) {
        p->part = 1; /* its bytes are preaded from the file, where the part's FILE stands */
        p->pos0 = (off_t)at;
    }
    p->dict = dict;
    p->on_bad = on_bad;
    p->bad_ud = bad_ud;
    p->schema = t->schema;
    p->nattr = t->schema.nattrs;
    p->wait_ms = SL_READER_WAIT_MS;
    struct stat sb;
    const char *why = NULL;
    if (p->nthreads < 2)
        why = "source.threads is 1 (or there is one CPU)";
    else if (p->fd < 0 || fstat(p->fd, &sb) != 0 || !S_ISREG(sb.st_mode))
        why = "not a regular file";
    else if (!p->part && (p->pos0 = ftello(in)) < 0)
        why = "the file cannot tell its position";
    else if (!p->part && sl_decomp_fd_kind(p->fd) != SL_DECOMP_NONE)
        why = "compressed input is decoded by one thread";
    if (why && (!in || (rc = give_way(p, why)))) {
        snprintf(msg, msglen, "%s", in ? sl_strerror(rc) : "no input");
        par_close((void **)&p);
        return in ? rc : SL_EINVAL;
    }
    *be = p;
    return 0;
}

/* The attributes of the last read's records: the single reader's, or those handed out. */
static uint64_t *par_attrs(void *be)
{
    struct par *p = be;
    return p->last_single ? sl_reader_attrs(p->single) : p->out;
}

const struct source_ops sl_src_par_ops = {
    .attrs = par_attrs,
    .open = par_open,
    .read = par_read,
    .fd = par_fd,
    .stats = par_stats,
    .close = par_close,
    .set_wait = par_set_wait,
    .resume = par_resume,
};
