/* sluice kernel check --deep: the PE under Oclgrind; see deepcheck.h. */
#include "deepcheck.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "kernsrc.h"
#include "peprog.h"
#include "textfile.h"

extern char **environ;

/* The sample: small, because Oclgrind interprets every instruction of every work-item (about
 * 1 s on a 2-core VM); several batches, snapshots between them (sl_merge, sl_emit), 40 ads and
 * 200 users, every event type the generator makes. */
#define SAMPLE_EVENTS 4000
#define SAMPLE_KEYS 40
#define SAMPLE_EVENTS_PER_MS 2
#define SAMPLE_BATCH 1000
#define SAMPLE_TRIGGER 1500
#define MAX_SHOWN 50

static const char *const icd_paths[] = {
    "/usr/lib/oclgrind/liboclgrind-rt-icd.so", "/usr/local/lib/oclgrind/liboclgrind-rt-icd.so",
    "/usr/local/lib/liboclgrind-rt-icd.so",    "/usr/lib64/liboclgrind-rt-icd.so",
    "/usr/lib/liboclgrind-rt-icd.so",
};

int sl_deep_find_oclgrind(char *buf, size_t len)
{
    const char *env = getenv("SLUICE_OCLGRIND_ICD");
    if (env) {
        snprintf(buf, len, "%s", env);
        return *env && access(env, R_OK) == 0;
    }
    for (size_t i = 0; i < sizeof icd_paths / sizeof icd_paths[0]; i++)
        if (access(icd_paths[i], R_OK) == 0) {
            snprintf(buf, len, "%s", icd_paths[i]);
            return 1;
        }
    buf[0] = '\0';
    return 0;
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The temporary directory and the files in it. */
struct tmp {
    char dir[512];
    char icd_dir[600], icd[700], yaml[600], log[600], err[600];
};

static void tmp_remove(struct tmp *t)
{
    if (!t->dir[0])
        return;
    const char *files[] = {t->icd, t->yaml, t->log, t->err};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        unlink(files[i]);
    rmdir(t->icd_dir);
    rmdir(t->dir);
}

static int write_text(const char *path, const char *text, char *msg, size_t msglen)
{
    FILE *f = fopen(path, "w");
    if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
        snprintf(msg, msglen, "cannot write %s: %s", path, strerror(errno));
        if (f)
            fclose(f);
        return SL_EIO;
    }
    return 0;
}

/* Appends s to the YAML double-quoted scalar in buf. */
static void yaml_quoted(char *buf, size_t len, const char *s)
{
    size_t n = strlen(buf);
    if (n + 1 < len)
        buf[n++] = '"';
    for (; *s && n + 3 < len; s++) {
        if (*s == '"' || *s == '\\')
            buf[n++] = '\\';
        buf[n++] = *s;
    }
    if (n + 1 < len)
        buf[n++] = '"';
    buf[n] = '\0';
}

/* Appends to buf (cap bytes, *at used), never past its end: *at stops at cap - 1. */
__attribute__((format(printf, 4, 5))) static void appendf(char *buf, size_t cap, size_t *at,
                                                          const char *fmt, ...)
{
    if (*at >= cap - 1)
        return;
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(buf + *at, cap - *at, fmt, ap);
    va_end(ap);
    if (w < 0 || (size_t)w >= cap - *at)
        *at = cap - 1;
    else
        *at += (size_t)w;
}

/* The topology of the run: the generator's sample through the PE, output discarded. */
static int write_topology(const sl_deep_opts *o, const char *abs_source, const char *path,
                          char *msg, size_t msglen)
{
    char y[8192];
    /* room for every open window: windows close after a batch, so keys x (the windows one
     * batch spans, and those the lateness keeps open, + 3), at most the sample's span */
    uint64_t cap = 2 * SAMPLE_KEYS;
    if (o->window_ms > 0) {
        uint64_t span = SAMPLE_EVENTS / SAMPLE_EVENTS_PER_MS;
        uint64_t w = (uint64_t)o->window_ms;
        uint64_t open =
            (SAMPLE_BATCH / SAMPLE_EVENTS_PER_MS) / w + (uint64_t)o->lateness_ms / w + 3;
        uint64_t all = span / w + 2;
        cap = (uint64_t)SAMPLE_KEYS * (open < all ? open : all) * 2;
        if (cap > 1u << 13) /* the simulator zeroes and scans every slot: keep it small */
            cap = 1u << 13;
    }
    int n = snprintf(y, sizeof y,
                     "source: {type: generator, events: %d, keys: %d, skew: 1.0, seed: 7, users: "
                     "200, click_rate: 0.2, purchase_rate: 0.2, events_per_ms: %d}\n"
                     "pe:\n  name: deep\n  kind: user\n  capacity: %llu\n  timeout_ms: %u\n"
                     "  trigger: {every_events: %d}\n",
                     SAMPLE_EVENTS, SAMPLE_KEYS, SAMPLE_EVENTS_PER_MS, (unsigned long long)cap,
                     (unsigned)o->timeout_ms, SAMPLE_TRIGGER);
    if (o->window_ms > 0)
        n += snprintf(y + n, sizeof y - (size_t)n, "  window_ms: %lld\n  lateness_ms: %lld\n",
                      (long long)o->window_ms, (long long)o->lateness_ms);
    snprintf(y + n, sizeof y - (size_t)n, "  source: ");
    yaml_quoted(y, sizeof y, abs_source);
    size_t at = strlen(y);
    appendf(y, sizeof y, &at, "\n");
    const sl_pe_cfg *pe = o->pe;
    for (uint32_t i = 0; pe && i < pe->nparams; i++)
        appendf(y, sizeof y, &at, "%s%s: %s%s", i ? ", " : "  params: {", pe->param[i].name,
                pe->param[i].value, i + 1 == pe->nparams ? "}\n" : "");
    /* the attributes, in a schema of the generator's fields (the records carry zeros) */
    if (pe && pe->nattrs) {
        appendf(y, sizeof y, &at,
                "schema:\n  fields: {ad_id: string, event_type: string, event_time: time");
        for (uint32_t k = 0; k < pe->nattrs; k++)
            appendf(y, sizeof y, &at, ", %s: %s", pe->attr[k].name,
                    pe->attr[k].is_double ? "double" : "int64");
        appendf(y, sizeof y, &at,
                "}\n  key: ad_id\n  time: event_time\n  type: {field: event_type}\n"
                "  attributes: [");
        for (uint32_t k = 0; k < pe->nattrs; k++)
            appendf(y, sizeof y, &at, "%s%s", k ? ", " : "", pe->attr[k].name);
        appendf(y, sizeof y, &at, "]\n");
    }
    appendf(y, sizeof y, &at, "batch: {events: %d}\nsink: {path: /dev/null}\n", SAMPLE_BATCH);
    if (at >= sizeof y - 1) {
        snprintf(msg, msglen, "the sample topology is too long (the PE's path?)");
        return SL_ERANGE;
    }
    return write_text(path, y, msg, msglen);
}

/* The child's environment: ours, with Oclgrind as the only platform and its checks on.
 * Returns a malloc'd array of `strings` (its own storage), or NULL. */
static char **child_env(const struct tmp *t, char *strings, size_t slen)
{
    static const char *const drop[] = {"OCL_ICD_VENDORS=",  "OCL_ICD_FILENAMES=", "SLUICE_DEVICE=",
                                       "HWLOC_COMPONENTS=", "OCLGRIND_",          "ASAN_OPTIONS="};
    size_t n = 0;
    while (environ[n])
        n++;
    char **env = calloc(n + 16, sizeof *env);
    if (!env)
        return NULL;
    size_t k = 0, used = 0;
    for (size_t i = 0; i < n; i++) {
        int skip = 0;
        for (size_t d = 0; d < sizeof drop / sizeof drop[0]; d++)
            skip |= strncmp(environ[i], drop[d], strlen(drop[d])) == 0;
        if (!skip)
            env[k++] = environ[i];
    }
    const char *asan = getenv("ASAN_OPTIONS");
    char add[8][700];
    int na = 0;
    snprintf(add[na++], sizeof add[0], "OCL_ICD_VENDORS=%s", t->icd_dir);
    snprintf(add[na++], sizeof add[0], "SLUICE_DEVICE=oclgrind");
    snprintf(add[na++], sizeof add[0], "HWLOC_COMPONENTS=-opencl");
    snprintf(add[na++], sizeof add[0], "OCLGRIND_LOG=%s", t->log);
    snprintf(add[na++], sizeof add[0], "OCLGRIND_COMPUTE_UNITS=3");
    snprintf(add[na++], sizeof add[0],
             "OCLGRIND_BUILD_OPTIONS=-cl-opt-disable -D__builtin_prefetch(p)=((void)(p))");
    /* Under AddressSanitizer (a sanitizer build of sluice), the simulator's own allocations
     * would be reported as leaks at exit: they are not the PE's problems. */
    snprintf(add[na++], sizeof add[0], "ASAN_OPTIONS=%s%sdetect_leaks=0", asan ? asan : "",
             asan && *asan ? ":" : "");
    for (int i = 0; i < na; i++) {
        size_t l = strlen(add[i]) + 1;
        if (used + l > slen) {
            free(env);
            return NULL;
        }
        memcpy(strings + used, add[i], l);
        env[k++] = strings + used;
        used += l;
    }
    static char checks[][32] = {"OCLGRIND_CHECK_API=1", "OCLGRIND_DATA_RACES=1",
                                "OCLGRIND_UNINITIALIZED=1"};
    for (size_t i = 0; i < sizeof checks / sizeof checks[0]; i++)
        env[k++] = checks[i];
    env[k] = NULL;
    return env;
}

/* Runs `self run YAML` under the environment; its stderr goes to t->err. Returns 0 with *status
 * (waitpid's), or SL_EIO. */
static int run_child(const sl_deep_opts *o, const struct tmp *t, int *status, char *msg,
                     size_t msglen)
{
    static char strings[8192];
    char **env = child_env(t, strings, sizeof strings);
    if (!env) {
        snprintf(msg, msglen, "out of memory for the environment of the run under Oclgrind");
        return SL_ENOMEM;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&fa, STDERR_FILENO, t->err, O_WRONLY | O_CREAT | O_TRUNC,
                                     0600);
    char *argv[] = {"sluice", "run", (char *)t->yaml, "--quiet", NULL};
    pid_t pid;
    int e = posix_spawn(&pid, o->self, &fa, NULL, argv, env);
    posix_spawn_file_actions_destroy(&fa);
    free(env);
    if (e != 0) {
        snprintf(msg, msglen, "cannot start %s under Oclgrind: %s", o->self, strerror(e));
        return SL_EIO;
    }
    while (waitpid(pid, status, 0) < 0) {
        if (errno != EINTR) {
            snprintf(msg, msglen, "waiting for the run under Oclgrind: %s", strerror(errno));
            return SL_EIO;
        }
    }
    return 0;
}

/* ---- the log ------------------------------------------------------------------------------- */

struct loc {
    char file[256];
    unsigned line, col;
};

struct finding {
    char title[200];
    char kernel[64];
    struct loc at[2]; /* at[1]: a data race's second access, when Oclgrind names it */
    int nat;
    uint64_t count;
};

struct findings {
    struct finding *v;
    size_t n, cap;
    uint64_t reports;
    int suppressed; /* Oclgrind stopped reporting after its limit of errors */
};

static int same(const struct finding *a, const struct finding *b)
{
    if (strcmp(a->title, b->title) != 0 || strcmp(a->kernel, b->kernel) != 0 || a->nat != b->nat)
        return 0;
    for (int i = 0; i < a->nat; i++)
        if (strcmp(a->at[i].file, b->at[i].file) != 0 || a->at[i].line != b->at[i].line ||
            a->at[i].col != b->at[i].col)
            return 0;
    return 1;
}

static int add_finding(struct findings *fs, const struct finding *f)
{
    if (strstr(f->title, "errors generated - suppressing")) {
        fs->suppressed = 1; /* "Oclgrind: 1000 errors generated - suppressing further errors" */
        return 0;
    }
    fs->reports++;
    for (size_t i = 0; i < fs->n; i++)
        if (same(&fs->v[i], f)) {
            fs->v[i].count++;
            return 0;
        }
    if (fs->n == fs->cap) {
        size_t cap = fs->cap ? fs->cap * 2 : 16;
        struct finding *v = realloc(fs->v, cap * sizeof *v);
        if (!v)
            return SL_ENOMEM;
        fs->v = v;
        fs->cap = cap;
    }
    fs->v[fs->n] = *f;
    fs->v[fs->n++].count = 1;
    return 0;
}

/* "Invalid read of size 4 at global memory address 0x1000000000010" -> without the address,
 * which differs between work-items and runs. */
static void set_title(struct finding *f, const char *line)
{
    snprintf(f->title, sizeof f->title, "%.*s", (int)sizeof f->title - 1, line);
    f->title[strcspn(f->title, "\r\n")] = '\0';
    char *a = strstr(f->title, " address 0x");
    if (a)
        *a = '\0';
}

/* Reads Oclgrind's log: each report is a line at the margin (what happened) followed by
 * indented lines, among them "Kernel: NAME" and one or two "At line N (column C) of FILE:". */
static int read_log(const char *path, struct findings *fs)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0; /* no report at all: Oclgrind creates the log at its first message */
    char *line = NULL;
    size_t cap = 0;
    struct finding cur;
    int have = 0, rc = 0;
    while (rc == 0 && getline(&line, &cap, f) >= 0) {
        if (line[0] == '\n' || line[0] == '\0')
            continue;
        if (line[0] != '\t' && line[0] != ' ') {
            if (have)
                rc = add_finding(fs, &cur);
            memset(&cur, 0, sizeof cur);
            set_title(&cur, line);
            have = 1;
            continue;
        }
        if (!have)
            continue;
        const char *s = line + strspn(line, " \t");
        struct loc l = {"", 0, 0};
        if (sscanf(s, "Kernel: %63s", cur.kernel) == 1)
            continue;
        if (cur.nat < 2 &&
            (sscanf(s, "At line %u (column %u) of %255[^:\n]:", &l.line, &l.col, l.file) == 3 ||
             sscanf(s, "At line %u of %255[^:\n]:", &l.line, l.file) == 2))
            cur.at[cur.nat++] = l;
    }
    if (rc == 0 && have)
        rc = add_finding(fs, &cur);
    free(line);
    fclose(f);
    return rc;
}

/* Lines of stderr that Oclgrind wrote there (fatal errors outside kernels): "OCLGRIND FATAL
 * ERROR ...", "Oclgrind - ..." or "Oclgrind: ...". */
static int read_stderr(const char *path, struct findings *fs)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return 0;
    char buf[1024];
    int rc = 0;
    while (rc == 0 && fgets(buf, sizeof buf, f))
        if (strstr(buf, "OCLGRIND") || strstr(buf, "Oclgrind -") || strstr(buf, "Oclgrind:")) {
            struct finding x;
            memset(&x, 0, sizeof x);
            set_title(&x, buf);
            rc = add_finding(fs, &x);
        }
    fclose(f);
    return rc;
}

/* The last `len` - 1 bytes of a file, from a line start where possible. */
static void tail_of(const char *path, char *out, size_t len)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    long from = size > (long)len - 1 ? size - (long)len + 1 : 0;
    fseek(f, from, SEEK_SET);
    size_t n = fread(out, 1, len - 1, f);
    out[n] = '\0';
    fclose(f);
    char *nl = from > 0 ? strchr(out, '\n') : NULL;
    if (nl)
        memmove(out, nl + 1, strlen(nl + 1) + 1);
    n = strlen(out);
    while (n > 0 && out[n - 1] == '\n')
        out[--n] = '\0';
}

static const char *base_name(const char *p)
{
    const char *b = strrchr(p, '/');
    return b ? b + 1 : p;
}

/* Line n (1-based) of text into out, without its newline; "" when there is none. */
static void line_of(const char *text, unsigned n, char *out, size_t len)
{
    out[0] = '\0';
    if (!text || n == 0)
        return;
    for (unsigned i = 1; i < n; i++) {
        text = strchr(text, '\n');
        if (!text)
            return;
        text++;
    }
    size_t l = strcspn(text, "\n");
    if (l >= len)
        l = len - 1;
    memcpy(out, text, l);
    out[l] = '\0';
}

/* The file at path, malloc'd and NUL-terminated, or NULL when it cannot be read. */
static char *slurp(const char *path)
{
    char *text = NULL, why[512];
    size_t len = 0;
    return sl_read_file(path, SL_PE_FILE_MAX, &text, &len, why, sizeof why) ? NULL : text;
}

/* The text of file `name` as Oclgrind names it: the user's source, or one of sluice's kernel
 * files (sl_engine.cl, sluice.h), built into the binary. */
static const char *text_of(const char *name, const char *user_base, const char *user_text)
{
    if (strcmp(name, user_base) == 0)
        return user_text;
    return sl_kernel_source(name);
}

static void print_finding(FILE *out, const struct finding *f, const sl_deep_opts *o,
                          const char *user_text)
{
    const char *ub = base_name(o->source);
    if (f->nat == 0) {
        fprintf(out, "%s: %s", o->source, f->title);
    } else {
        const struct loc *l = &f->at[0];
        const char *shown = strcmp(l->file, ub) == 0 ? o->source : l->file;
        fprintf(out, "%s:%u:", shown, l->line);
        if (l->col)
            fprintf(out, "%u:", l->col);
        fprintf(out, " %s", f->title);
    }
    if (f->kernel[0])
        fprintf(out, " (kernel %s", f->kernel);
    fprintf(out, "%s%llu report%s%s\n", f->kernel[0] ? "; " : " (", (unsigned long long)f->count,
            f->count == 1 ? "" : "s", ")");
    for (int i = 0; i < f->nat; i++) {
        const struct loc *l = &f->at[i];
        char text[512];
        line_of(text_of(l->file, ub, user_text), l->line, text, sizeof text);
        if (i > 0)
            fprintf(out, "    and %s:%u:\n", strcmp(l->file, ub) == 0 ? o->source : l->file,
                    l->line);
        if (text[0])
            fprintf(out, "    %5u | %s\n", l->line, text);
    }
}

/* Counts findings by kind: out of bounds, data races, uninitialized values, other. */
static void kinds(const struct findings *fs, unsigned k[4])
{
    k[0] = k[1] = k[2] = k[3] = 0;
    for (size_t i = 0; i < fs->n; i++) {
        const char *t = fs->v[i].title;
        if (strstr(t, "Invalid read") || strstr(t, "Invalid write") || strstr(t, "exceeds") ||
            strstr(t, "out of bounds"))
            k[0]++;
        else if (strstr(t, "data race"))
            k[1]++;
        else if (strstr(t, "ninitiali"))
            k[2]++;
        else
            k[3]++;
    }
}

int sl_deep_check(const sl_deep_opts *o, FILE *out, sl_deep_report *rep, char *msg, size_t msglen)
{
    memset(rep, 0, sizeof *rep);
    msg[0] = '\0';
    char icd_lib[PATH_MAX];
    if (!sl_deep_find_oclgrind(icd_lib, sizeof icd_lib)) {
        if (getenv("SLUICE_OCLGRIND_ICD"))
            snprintf(msg, msglen,
                     "Oclgrind is not installed: no library at %s (SLUICE_OCLGRIND_ICD)", icd_lib);
        else
            snprintf(msg, msglen,
                     "Oclgrind is not installed (its ICD library liboclgrind-rt-icd.so is not in "
                     "%s or the other usual places; on Debian: apt-get install oclgrind, or set "
                     "SLUICE_OCLGRIND_ICD to the library)",
                     icd_paths[0]);
        return SL_EUNSUPPORTED;
    }
    char abs_source[PATH_MAX];
    if (!realpath(o->source, abs_source)) {
        snprintf(msg, msglen, "%s: %s", o->source, strerror(errno));
        return SL_EIO;
    }
    struct tmp t;
    memset(&t, 0, sizeof t);
    const char *base = getenv("TMPDIR");
    snprintf(t.dir, sizeof t.dir, "%s/sluice-deep.XXXXXX", base && *base ? base : "/tmp");
    if (!mkdtemp(t.dir)) {
        snprintf(msg, msglen, "cannot create a temporary directory %s: %s", t.dir, strerror(errno));
        t.dir[0] = '\0';
        return SL_EIO;
    }
    snprintf(t.icd_dir, sizeof t.icd_dir, "%s/icd", t.dir);
    snprintf(t.icd, sizeof t.icd, "%s/oclgrind.icd", t.icd_dir);
    snprintf(t.yaml, sizeof t.yaml, "%s/deep.yaml", t.dir);
    snprintf(t.log, sizeof t.log, "%s/oclgrind.log", t.dir);
    snprintf(t.err, sizeof t.err, "%s/stderr.txt", t.dir);
    struct findings fs = {NULL, 0, 0, 0, 0};
    char *user_text = NULL;
    int status = 0, rc;
    char line[PATH_MAX + 2];
    snprintf(line, sizeof line, "%s\n", icd_lib);
    if (mkdir(t.icd_dir, 0700) != 0) {
        snprintf(msg, msglen, "cannot create %s: %s", t.icd_dir, strerror(errno));
        rc = SL_EIO;
        goto out;
    }
    if ((rc = write_text(t.icd, line, msg, msglen)) ||
        (rc = write_topology(o, abs_source, t.yaml, msg, msglen)))
        goto out;
    double t0 = now_s();
    if ((rc = run_child(o, &t, &status, msg, msglen)))
        goto out;
    rep->seconds = now_s() - t0;
    rep->events = SAMPLE_EVENTS;
    if ((rc = read_log(t.log, &fs)) || (rc = read_stderr(t.err, &fs))) {
        snprintf(msg, msglen, "out of memory reading Oclgrind's log");
        goto out;
    }
    rep->findings = (uint32_t)fs.n;
    rep->reports = fs.reports;
    user_text = slurp(abs_source);
    for (size_t i = 0; i < fs.n && i < MAX_SHOWN; i++)
        print_finding(out, &fs.v[i], o, user_text);
    if (fs.n > MAX_SHOWN)
        fprintf(out, "... and %zu more\n", fs.n - MAX_SHOWN);
    int ok_exit = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (!ok_exit) {
        char tail[1200];
        tail_of(t.err, tail, sizeof tail);
        char how[64];
        if (WIFSIGNALED(status))
            snprintf(how, sizeof how, "was killed by signal %d", WTERMSIG(status));
        else
            snprintf(how, sizeof how, "failed with exit status %d", WEXITSTATUS(status));
        if (fs.n == 0) {
            snprintf(msg, msglen, "the run under Oclgrind %s:\n%s", how, tail);
            rc = SL_ECL;
            goto out;
        }
        fprintf(out, "%s: the run under Oclgrind %s:\n%s\n", o->source, how, tail);
    }
    unsigned k[4];
    kinds(&fs, k);
    if (fs.n == 0)
        fprintf(out,
                "%s: OK under Oclgrind (%d generated events in %.1f s: no out-of-bounds access, "
                "data race or uninitialized value)\n",
                o->source, SAMPLE_EVENTS, rep->seconds);
    else
        fprintf(out,
                "%s: %zu problem%s under Oclgrind (%llu reports in %d generated events%s): %u "
                "out-of-bounds, %u data race, %u uninitialized value, %u other\n",
                o->source, fs.n, fs.n == 1 ? "" : "s", (unsigned long long)fs.reports,
                SAMPLE_EVENTS, fs.suppressed ? ", then Oclgrind stopped reporting" : "", k[0], k[1],
                k[2], k[3]);
out:
    free(fs.v);
    free(user_text);
    tmp_remove(&t);
    return rc;
}
