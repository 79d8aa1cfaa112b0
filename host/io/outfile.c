/* Output files committed by rename: see outfile.h. */
#include "outfile.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

#include "err.h"

#define STREAM_BUF ((size_t)1 << 16)

struct sl_outfile {
    FILE *f;
    int fd;
    int werr;         /* errno of the first failed write, 0 none */
    int direct;       /* written in place: no temporary file */
    char *path;       /* as given, for messages */
    char *dest;       /* what the temporary file is renamed to */
    char *tmp;        /* the temporary file, NULL when direct */
    char *dir;        /* the folder of dest, for its fsync */
    char *stream_buf; /* STREAM_BUF bytes for f */
};

/* ---- removing the temporary file when a signal ends the process ---- */

/* While an outfile is open, SIGINT, SIGTERM and SIGHUP (those left at their default action)
 * remove its temporary file before the process dies of them. The handler checks the pid: a
 * child forked before it execs shares the handler but not the file. */
static const int cleanup_signals[] = {SIGINT, SIGTERM, SIGHUP};
#define NSIG_CLEANUP ((int)(sizeof cleanup_signals / sizeof cleanup_signals[0]))
static char sig_tmp[PATH_MAX];
static volatile sig_atomic_t sig_armed;
static pid_t sig_pid;
static int sig_installed[NSIG_CLEANUP];

static void on_fatal_signal(int sig)
{
    int saved = errno;
    if (sig_armed && getpid() == sig_pid)
        unlink(sig_tmp);
    signal(sig, SIG_DFL);
    raise(sig); /* delivered once the handler returns: the process ends as it would have */
    errno = saved;
}

static void arm_cleanup(const char *tmp)
{
    if (strlen(tmp) >= sizeof sig_tmp)
        return;
    memcpy(sig_tmp, tmp, strlen(tmp) + 1);
    sig_pid = getpid();
    sig_armed = 1;
    for (int i = 0; i < NSIG_CLEANUP; i++) {
        struct sigaction old, sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_handler = on_fatal_signal;
        sigemptyset(&sa.sa_mask);
        sig_installed[i] = 0;
        if (sigaction(cleanup_signals[i], NULL, &old) == 0 && old.sa_handler == SIG_DFL &&
            !(old.sa_flags & SA_SIGINFO) && sigaction(cleanup_signals[i], &sa, NULL) == 0)
            sig_installed[i] = 1;
    }
}

static void disarm_cleanup(void)
{
    sig_armed = 0;
    for (int i = 0; i < NSIG_CLEANUP; i++) {
        struct sigaction cur;
        /* Only our own handler goes back to the default; a later one stays. */
        if (sig_installed[i] && sigaction(cleanup_signals[i], NULL, &cur) == 0 &&
            cur.sa_handler == on_fatal_signal)
            signal(cleanup_signals[i], SIG_DFL);
        sig_installed[i] = 0;
    }
}

/* ---- the stream ---- */

static ssize_t stream_write(void *cookie, const char *buf, size_t size)
{
    sl_outfile *of = cookie;
    size_t done = 0;
    while (done < size) {
        ssize_t n = write(of->fd, buf + done, size - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (!of->werr)
                of->werr = n < 0 ? errno : EIO;
            return -1;
        }
        done += (size_t)n;
    }
    return (ssize_t)size;
}

static int stream_close(void *cookie)
{
    (void)cookie; /* the fd is closed by commit or abort, after its fsync */
    return 0;
}

/* ---- paths ---- */

/* Splits path into a malloc'd folder ("." when it has none) and a pointer to its last
 * component (NULL when path ends in '/'). Returns the folder or NULL when out of memory. */
static char *folder_of(const char *path, const char **base)
{
    const char *slash = strrchr(path, '/');
    *base = slash ? slash + 1 : path;
    if (**base == '\0')
        *base = NULL;
    if (!slash)
        return strdup(".");
    if (slash == path)
        return strdup("/");
    return strndup(path, (size_t)(slash - path));
}

/* Sets *out to the malloc'd absolute path of `path`, whose folder must exist, with symbolic
 * links resolved in the folder (and in path itself when it exists). Returns 0, an errno value
 * with *bad_folder set when the folder is the problem, or ENOMEM. */
static int resolve(const char *path, char **out, int *bad_folder)
{
    const char *base;
    *out = NULL;
    *bad_folder = 0;
    char *r = realpath(path, NULL);
    if (r) {
        *out = r;
        return 0;
    }
    if (errno != ENOENT)
        return errno;
    char *dir = folder_of(path, &base);
    if (!dir)
        return ENOMEM;
    if (!base) {
        free(dir);
        return EISDIR;
    }
    char *rdir = realpath(dir, NULL);
    int e = errno;
    free(dir);
    if (!rdir) {
        *bad_folder = 1;
        return e;
    }
    size_t n = strlen(rdir) + strlen(base) + 2;
    *out = malloc(n);
    if (*out)
        snprintf(*out, n, "%s%s%s", rdir, strcmp(rdir, "/") == 0 ? "" : "/", base);
    free(rdir);
    return *out ? 0 : ENOMEM;
}

/* Creates folder `dir` and those above it that are missing, as mkdir -p (mode 0777 less the
 * umask). Returns 0, or an errno value with *failed_len set to the length of the prefix of dir
 * that could not be made (or is no folder). dir is modified while it runs and restored. */
static int make_folders(char *dir, size_t *failed_len)
{
    struct stat st;
    if (stat(dir, &st) == 0) {
        *failed_len = strlen(dir);
        return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
    }
    if (errno != ENOENT && errno != ENOTDIR) {
        *failed_len = strlen(dir);
        return errno;
    }
    /* missing, or under something that is no folder: the parent says which */
    char *slash = strrchr(dir, '/');
    while (slash && slash > dir && slash[-1] == '/')
        slash--; /* "a//b": the parent is "a" */
    if (slash && slash > dir) {
        *slash = '\0';
        int e = make_folders(dir, failed_len);
        *slash = '/';
        if (e)
            return e;
    }
    if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
        *failed_len = strlen(dir);
        return errno;
    }
    return 0;
}

/* Whether writing path in place is all that can be done: /dev/stdout and the like name an
 * open file, not a folder entry a rename could replace. */
static int special_path(const char *path)
{
    return strncmp(path, "/proc/", 6) == 0 || strncmp(path, "/dev/fd/", 8) == 0 ||
           strcmp(path, "/dev/stdout") == 0 || strcmp(path, "/dev/stderr") == 0;
}

/* Whether out_path names the input (see sl_outfile_check_not_input). */
static int is_input(const char *out_path, int in_fd, const char *in_path)
{
    struct stat so, si;
    if (stat(out_path, &so) == 0)
        return in_fd >= 0 && fstat(in_fd, &si) == 0 && S_ISREG(si.st_mode) &&
               so.st_dev == si.st_dev && so.st_ino == si.st_ino;
    if (!in_path)
        return 0;
    char *ro = NULL, *ri = NULL;
    int bad, same = 0;
    if (resolve(out_path, &ro, &bad) == 0 && resolve(in_path, &ri, &bad) == 0)
        same = strcmp(ro, ri) == 0;
    free(ro);
    free(ri);
    return same;
}

int sl_outfile_check_not_input(const char *out_path, int in_fd, const char *in_path, char *msg,
                               size_t msglen)
{
    if (!is_input(out_path, in_fd, in_path))
        return 0;
    sl_set_msg(msg, msglen, "the output %s is the input file; writing it would destroy the input",
               out_path);
    return SL_EINVAL;
}

/* ---- open, commit, abort ---- */

static void free_outfile(sl_outfile *of)
{
    free(of->path);
    free(of->dest);
    free(of->tmp);
    free(of->dir);
    free(of->stream_buf);
    free(of);
}

/* Gives `of` its stream on of->fd. Returns 0 or SL_ENOMEM. */
static int make_stream(sl_outfile *of)
{
    cookie_io_functions_t io = {
        .read = NULL, .write = stream_write, .seek = NULL, .close = stream_close};
    of->stream_buf = malloc(STREAM_BUF);
    if (!of->stream_buf)
        return SL_ENOMEM;
    of->f = fopencookie(of, "w", io);
    if (!of->f)
        return SL_ENOMEM;
    setvbuf(of->f, of->stream_buf, _IOFBF, STREAM_BUF);
    return 0;
}

/* Opens the temporary file for of->dest in its folder, with `mode`. Returns 0 or an errno. */
static int open_tmp(sl_outfile *of, mode_t mode)
{
    const char *base;
    of->dir = folder_of(of->dest, &base);
    if (!of->dir || !base)
        return of->dir ? EISDIR : ENOMEM;
    /* ".NAME.XXXXXX", the name cut so that it stays within NAME_MAX. */
    int keep = (int)strlen(base) > 200 ? 200 : (int)strlen(base);
    size_t n = strlen(of->dir) + (size_t)keep + 16;
    of->tmp = malloc(n);
    if (!of->tmp)
        return ENOMEM;
    snprintf(of->tmp, n, "%s/.%.*s.XXXXXX", of->dir, keep, base);
    of->fd = mkostemp(of->tmp, O_CLOEXEC);
    if (of->fd < 0) {
        int e = errno;
        free(of->tmp);
        of->tmp = NULL;
        return e;
    }
    if (fchmod(of->fd, mode) != 0) {
        int e = errno;
        close(of->fd);
        of->fd = -1;
        unlink(of->tmp);
        free(of->tmp);
        of->tmp = NULL;
        return e;
    }
    return 0;
}

int sl_outfile_make_folder(const char *path, char *msg, size_t msglen)
{
    const char *base;
    char *dir = folder_of(path, &base);
    size_t failed = 0;
    int e = !dir ? ENOMEM : base ? make_folders(dir, &failed) : 0; /* "d/": no file name */
    if (e == ENOMEM)
        sl_set_msg(msg, msglen, "out of memory");
    else if (e)
        sl_set_msg(msg, msglen, "cannot create folder %.*s for output %s: %s", (int)failed, dir,
                   path, strerror(e));
    free(dir);
    return e == 0 ? 0 : e == ENOMEM ? SL_ENOMEM : SL_EIO;
}

int sl_outfile_open(const char *path, sl_outfile **ofp, char *msg, size_t msglen)
{
    return sl_outfile_open_mode(path, 0, ofp, msg, msglen);
}

int sl_outfile_open_mode(const char *path, int how, sl_outfile **ofp, char *msg, size_t msglen)
{
    int in_place = how != SL_OUTFILE_RENAME;
    struct stat st;
    int e = 0, bad_folder = 0, rc;
    *ofp = NULL;
    sl_outfile *of = calloc(1, sizeof *of);
    if (!of || !(of->path = strdup(path))) {
        free(of);
        sl_set_msg(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    of->fd = -1;
    int exists = stat(path, &st) == 0;
    if (!exists && (errno == ENOENT || errno == ENOTDIR) && !special_path(path) &&
        (rc = sl_outfile_make_folder(path, msg, msglen)) != 0) {
        free_outfile(of); /* a new output in a folder that could not be made */
        return rc;
    }
    if (exists && S_ISDIR(st.st_mode)) {
        e = EISDIR;
    } else if (in_place || special_path(path) || (exists && !S_ISREG(st.st_mode))) {
        of->direct = 1;
        of->fd = open(path, O_WRONLY | O_CREAT | (how == SL_OUTFILE_KEEP ? 0 : O_TRUNC) | O_CLOEXEC,
                      0666);
        if (of->fd < 0)
            e = errno;
    } else if ((e = resolve(path, &of->dest, &bad_folder)) == 0) {
        mode_t mode;
        if (exists) {
            /* fopen would fail on an output we may not write; so does the rename. */
            if (access(of->dest, W_OK) != 0)
                e = errno;
            mode = st.st_mode & 07777;
        } else {
            mode_t mask = umask(0);
            umask(mask);
            mode = 0666 & ~mask;
        }
        if (!e)
            e = open_tmp(of, mode);
        if (exists && (e == EACCES || e == EPERM)) {
            /* A writable file in a folder we may not add to: written in place, as before. */
            of->direct = 1;
            of->fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
            e = of->fd < 0 ? errno : 0;
        }
    }
    if (e) {
        if (bad_folder) {
            const char *base;
            char *dir = folder_of(path, &base);
            sl_set_msg(msg, msglen, "cannot open output %s: folder %s: %s", path, dir ? dir : "?",
                       strerror(e));
            free(dir);
        } else {
            sl_set_msg(msg, msglen, "cannot open output %s: %s", path, strerror(e));
        }
        free_outfile(of);
        return e == ENOMEM ? SL_ENOMEM : SL_EIO;
    }
    if ((rc = make_stream(of)) != 0) {
        sl_set_msg(msg, msglen, "out of memory");
        sl_outfile_abort(&of);
        return rc;
    }
    if (of->tmp)
        arm_cleanup(of->tmp);
    *ofp = of;
    return 0;
}

FILE *sl_outfile_stream(const sl_outfile *of)
{
    return of->f;
}

int sl_outfile_fd(const sl_outfile *of)
{
    return of->fd;
}

int sl_outfile_error(const sl_outfile *of)
{
    return of->werr;
}

/* Closes the stream (without writing what it still buffers) and the fd. */
static void close_all(sl_outfile *of)
{
    if (of->f) {
        __fpurge(of->f);
        fclose(of->f);
        of->f = NULL;
    }
    if (of->fd >= 0) {
        close(of->fd);
        of->fd = -1;
    }
}

int sl_outfile_commit(sl_outfile **ofp, char *msg, size_t msglen)
{
    sl_outfile *of = *ofp;
    int e = 0;
    *ofp = NULL;
    if (fflush(of->f) != 0 || ferror(of->f))
        e = of->werr ? of->werr : EIO;
    else if (of->werr)
        e = of->werr;
    if (!e && fclose(of->f) != 0)
        e = errno;
    of->f = NULL;
    if (!e && !of->direct && fsync(of->fd) != 0)
        e = errno;
    if (!e) {
        int fd = of->fd;
        of->fd = -1;
        if (close(fd) != 0 && errno != EINTR)
            e = errno;
    }
    if (!e && !of->direct && rename(of->tmp, of->dest) != 0)
        e = errno;
    if (!e && !of->direct) {
        disarm_cleanup();
        free(of->tmp);
        of->tmp = NULL; /* renamed: nothing to remove */
        int dfd = open(of->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd >= 0) { /* makes the rename durable; a folder that refuses is no failure */
            fsync(dfd);
            close(dfd);
        }
    }
    if (e)
        sl_set_msg(msg, msglen, "writing %s failed: %s", of->path, strerror(e));
    sl_outfile_abort(&of);
    return e ? SL_EIO : 0;
}

void sl_outfile_abort(sl_outfile **ofp)
{
    if (!ofp || !*ofp)
        return;
    sl_outfile *of = *ofp;
    *ofp = NULL;
    close_all(of);
    if (of->tmp) {
        unlink(of->tmp);
        disarm_cleanup();
    }
    free_outfile(of);
}
