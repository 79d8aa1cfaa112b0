/* Benchmark report: table, JSON, plots, process measurements; see report.h. */
#include "report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common.h"
#include "err.h"

rp_case *rp_case_add(rp_report *r, const char *workload, const char *label, double x,
                     uint64_t events)
{
    if (r->n == r->cap) {
        int cap = r->cap ? r->cap * 2 : 16;
        rp_case *c = realloc(r->cases, (size_t)cap * sizeof *c);
        if (!c)
            return NULL;
        r->cases = c;
        r->cap = cap;
    }
    rp_case *c = &r->cases[r->n++];
    memset(c, 0, sizeof *c);
    snprintf(c->workload, sizeof c->workload, "%s", workload);
    snprintf(c->label, sizeof c->label, "%s", label);
    c->x = x;
    c->events = events;
    c->equal = 1;
    return c;
}

rp_system *rp_sys(rp_case *c, const char *name)
{
    for (int i = 0; i < c->nsys; i++)
        if (strcmp(c->sys[i].name, name) == 0)
            return &c->sys[i];
    if (c->nsys == RP_MAXSYS)
        return NULL;
    rp_system *s = &c->sys[c->nsys++];
    memset(s, 0, sizeof *s);
    snprintf(s->name, sizeof s->name, "%s", name);
    return s;
}

void rp_add(rp_system *s, const char *name, const char *unit, double v)
{
    if (!s)
        return;
    rp_series *x = NULL;
    for (int i = 0; i < s->ns && !x; i++)
        if (strcmp(s->s[i].name, name) == 0)
            x = &s->s[i];
    if (!x) {
        if (s->ns == RP_MAXSERIES)
            return;
        x = &s->s[s->ns++];
        memset(x, 0, sizeof *x);
        snprintf(x->name, sizeof x->name, "%s", name);
        snprintf(x->unit, sizeof x->unit, "%s", unit);
    }
    if (x->n < RP_MAXREP)
        x->v[x->n++] = v;
}

const rp_series *rp_get(const rp_system *s, const char *name)
{
    for (int i = 0; s && i < s->ns; i++)
        if (strcmp(s->s[i].name, name) == 0 && s->s[i].n > 0)
            return &s->s[i];
    return NULL;
}

double rp_median(const rp_series *s, double *min, double *max)
{
    double v[RP_MAXREP];
    memcpy(v, s->v, (size_t)s->n * sizeof *v);
    qsort(v, (size_t)s->n, sizeof *v, bc_cmp_double);
    if (min)
        *min = v[0];
    if (max)
        *max = v[s->n - 1];
    return v[s->n / 2];
}

/* ---- machine ---- */

void rp_loadavg(double l[3])
{
    l[0] = l[1] = l[2] = -1;
    FILE *f = fopen("/proc/loadavg", "r");
    if (!f)
        return;
    if (fscanf(f, "%lf %lf %lf", &l[0], &l[1], &l[2]) != 3)
        l[0] = l[1] = l[2] = -1;
    fclose(f);
}

/* The first line a command prints, or ""; returns the command's exit status (-1 when it could
 * not run). */
static int first_line(const char *cmd, char *out, size_t len)
{
    char skip[512];
    out[0] = '\0';
    FILE *p = popen(cmd, "r");
    if (!p)
        return -1;
    if (fgets(out, (int)len, p))
        out[strcspn(out, "\n")] = '\0';
    while (fgets(skip, sizeof skip, p))
        ;
    int st = pclose(p);
    return st == -1 ? -1 : WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void rp_machine_probe(rp_machine *m, const char *source_dir)
{
    char line[512];
    FILE *f = fopen("/proc/cpuinfo", "r");
    snprintf(m->cpu, sizeof m->cpu, "unknown CPU");
    while (f && fgets(line, sizeof line, f)) {
        char *colon = strchr(line, ':');
        if (strncmp(line, "model name", 10) == 0 && colon) {
            colon++;
            colon += strspn(colon, " \t");
            colon[strcspn(colon, "\n")] = '\0';
            snprintf(m->cpu, sizeof m->cpu, "%s", colon);
            break;
        }
    }
    if (f)
        fclose(f);
    m->cores = sysconf(_SC_NPROCESSORS_ONLN);
    m->mem_gib = (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / 1073741824.0;
    time_t now = time(NULL);
    strftime(m->date, sizeof m->date, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
    struct utsname u;
    if (uname(&u) == 0)
        snprintf(m->kernel, sizeof m->kernel, "%s %s %s", u.sysname, u.release, u.machine);
    first_line("gnuplot --version 2>/dev/null", m->gnuplot, sizeof m->gnuplot);
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "git -C '%.1000s' describe --always --dirty 2>/dev/null", source_dir);
    first_line(cmd, m->commit, sizeof m->commit);
    rp_loadavg(m->load_start);
}

/* ---- process measurements ---- */

double rp_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec * 1e-6 +
           (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec * 1e-6;
}

static double status_mb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    double mb = -1;
    size_t fl = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, fl) == 0)
            mb = strtod(line + fl, NULL) / 1024.0;
    if (f)
        fclose(f);
    return mb;
}

static int peak_resettable = -1;

void rp_mem_reset_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    int ok = f && fputs("5", f) >= 0;
    if (f && fclose(f))
        ok = 0;
    if (peak_resettable < 0)
        peak_resettable = ok;
}

int rp_mem_peak_resettable(void)
{
    return peak_resettable == 1;
}

double rp_mem_rss_mb(void)
{
    return status_mb("VmRSS:");
}

double rp_mem_peak_mb(void)
{
    return status_mb("VmHWM:");
}

/* ---- table ---- */

/* "median (min..max)" with `prec` decimals. */
static void cell(char *buf, size_t len, const rp_series *s, double scale, int prec)
{
    if (!s) {
        snprintf(buf, len, "-");
        return;
    }
    double lo, hi, m = rp_median(s, &lo, &hi);
    snprintf(buf, len, "%.*f (%.*f..%.*f)", prec, m * scale, prec, lo * scale, prec, hi * scale);
}

static double med(const rp_system *s, const char *name)
{
    const rp_series *x = rp_get(s, name);
    return x ? rp_median(x, NULL, NULL) : NAN;
}

/* The insns case: instructions per event of each system (one callgrind run each), and where
 * they ran; sluice's kernels one by one. */
static void print_insns(const rp_case *c, FILE *out)
{
    const rp_system *sl = NULL;
    for (int k = 0; k < c->nsys; k++)
        if (strncmp(c->sys[k].name, "sluice", 6) == 0)
            sl = &c->sys[k];
    const double sl_ir = sl ? med(sl, "ir_ev") : NAN;
    fprintf(out, "\n== %s: %s; 1 run each, under callgrind ==\n", c->workload, c->label);
    fprintf(out, "   results: %s\n", c->check);
    fprintf(out, "   %-22s %-12s %-9s %s\n", "system", "instr/event", "sluice/it",
            "where: kernels, table fill, OpenCL runtime, host code, sorting rows, libc, other");
    for (int k = 0; k < c->nsys; k++) {
        const rp_system *s = &c->sys[k];
        const double ir = med(s, "ir_ev");
        fprintf(out, "   %-22s %-12.1f %-9.2f %.1f, %.1f, %.1f, %.1f, %.1f, %.1f, %.1f\n", s->name,
                ir, ir > 0 ? sl_ir / ir : NAN, med(s, "ir_kernel"), med(s, "ir_fill"),
                med(s, "ir_runtime"), med(s, "ir_host"), med(s, "ir_sort"), med(s, "ir_libc"),
                med(s, "ir_other"));
    }
    for (int k = 0; k < c->nsys; k++) {
        const rp_system *s = &c->sys[k];
        int any = 0;
        for (int j = 0; j < s->ns; j++) {
            if (strncmp(s->s[j].name, "k:", 2) != 0)
                continue;
            if (!any++)
                fprintf(out, "   %s kernels, instr/event:", s->name);
            fprintf(out, " %s %.1f", s->s[j].name + 2, rp_median(&s->s[j], NULL, NULL));
        }
        if (any)
            fprintf(out, "\n");
    }
}

void rp_print_table(const rp_report *r, FILE *out)
{
    const rp_machine *m = &r->m;
    fprintf(out,
            "sluice-bench%s: sluice %s (%s), %s; %s, %ld CPUs, %.0f GiB; device %s (%s, "
            "driver %s); redis %s; duckdb %s; valgrind %s\n",
            r->quick ? " --quick" : "", m->sluice, m->commit[0] ? m->commit : "no git", m->date,
            m->cpu, m->cores, m->mem_gib, m->device, m->device_version, m->driver, m->redis,
            m->duckdb[0] ? m->duckdb : "not run", m->valgrind[0] ? m->valgrind : "not run");
    fprintf(out,
            "load average at start %.2f, at end %.2f (other work on this machine shows "
            "here); every figure: median (min..max) of the repetitions\n",
            m->load_start[0], m->load_end[0]);
    for (int i = 0; i < r->n; i++) {
        const rp_case *c = &r->cases[i];
        if (strcmp(c->workload, "insns") == 0) {
            print_insns(c, out);
            continue;
        }
        const rp_system *ref = c->nsys ? &c->sys[0] : NULL;
        double ref_eps = ref ? med(ref, "eps") : NAN;
        int reps = 0;
        for (int k = 0; k < c->nsys; k++) {
            const rp_series *e = rp_get(&c->sys[k], "eps");
            if (e && e->n > reps)
                reps = e->n;
        }
        fprintf(out, "\n== %s: %s; %d rep%s ==\n", c->workload, c->label, reps,
                reps == 1 ? "" : "s");
        fprintf(out, "   results: %s\n", c->check);
        fprintf(out, "   %-22s %-30s %-9s %-20s %-32s %s\n", "system", "M events/s", "sluice/it",
                "CPU s", "MiB: peak, first run, setup", "Mev/CPU-s");
        for (int k = 0; k < c->nsys; k++) {
            const rp_system *s = &c->sys[k];
            char a[64], b[64], d[64];
            cell(a, sizeof a, rp_get(s, "eps"), 1e-6, 2);
            cell(b, sizeof b, rp_get(s, "cpu_s"), 1, 2);
            double peak = med(s, "peak_mb"), first = med(s, "first_mb"), setup = med(s, "setup_mb");
            int o = isnan(peak) ? snprintf(d, sizeof d, "-") : snprintf(d, sizeof d, "%.0f", peak);
            if (!isnan(first))
                o += snprintf(d + o, sizeof d - (size_t)o, " first +%.0f", first);
            if (!isnan(setup))
                snprintf(d + o, sizeof d - (size_t)o, " setup +%.0f", setup);
            double eps = med(s, "eps"), cpu = med(s, "cpu_s");
            char e[32] = "-"; /* no CPU time measured (the cluster runs) */
            if (cpu > 0)
                snprintf(e, sizeof e, "%.2f", (double)c->events / cpu / 1e6);
            fprintf(out, "   %-22s %-30s %-9.2f %-20s %-32s %s\n", s->name, a,
                    ref && eps > 0 ? ref_eps / eps : NAN, b, d, e);
        }
        /* whole processes (the file workload): their seconds from start to exit */
        if (strcmp(c->workload, "file") == 0) {
            fprintf(out, "   wall seconds, start to exit:");
            for (int k = 0; k < c->nsys; k++) {
                char w[64];
                cell(w, sizeof w, rp_get(&c->sys[k], "wall_s"), 1, 3);
                fprintf(out, "%s %s %s", k ? ";" : "", c->sys[k].name, w);
            }
            fprintf(out, "\n");
        }
        /* stages and latency of the systems that have them */
        static const char *stages[] = {"parse_s",  "join_s", "batch_s", "transfer_s",
                                       "kernel_s", "emit_s", "count_s", "read_s"};
        for (int k = 0; k < c->nsys; k++) {
            const rp_system *s = &c->sys[k];
            int any = 0;
            for (size_t j = 0; j < sizeof stages / sizeof *stages; j++) {
                double v = med(s, stages[j]);
                if (isnan(v))
                    continue;
                if (!any++)
                    fprintf(out, "   %s stages, s (M events/s of the stage alone):", s->name);
                fprintf(out, " %.*s %.3f (%.0f)", (int)strlen(stages[j]) - 2, stages[j], v,
                        v > 0 ? (double)c->events / v / 1e6 : 0.0);
            }
            if (any)
                fprintf(out, "\n");
            if (rp_get(s, "lat_p50_ms")) {
                char p50[64], p99[64], p999[64];
                cell(p50, sizeof p50, rp_get(s, "lat_p50_ms"), 1, 1);
                cell(p99, sizeof p99, rp_get(s, "lat_p99_ms"), 1, 1);
                cell(p999, sizeof p999, rp_get(s, "lat_p999_ms"), 1, 1);
                fprintf(out, "   %s window latency ms: p50 %s  p99 %s  p99.9 %s  (%.0f windows)\n",
                        s->name, p50, p99, p999, med(s, "windows"));
            }
        }
    }
}

/* ---- JSON ---- */

/* Writes pre, then s as a JSON string. */
static void json_str(FILE *f, const char *pre, const char *s)
{
    fputs(pre, f);
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

/* Writes pre, then v as a JSON number (null when it is not finite). */
static void json_num(FILE *f, const char *pre, double v)
{
    fputs(pre, f);
    if (isfinite(v))
        fprintf(f, "%.9g", v);
    else
        fprintf(f, "null");
}

int rp_write_json(const rp_report *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return SL_EIO;
    const rp_machine *m = &r->m;
    json_str(f, "{\n  \"tool\": \"sluice-bench\",\n  \"command\": ", r->command);
    fprintf(f, ",\n  \"quick\": %s,\n  \"elapsed_s\": ", r->quick ? "true" : "false");
    json_num(f, "", r->elapsed_s);
    json_str(f, ",\n  \"machine\": {\"cpu\": ", m->cpu);
    fprintf(f, ", \"cores\": %ld, \"memory_gib\": ", m->cores);
    json_num(f, "", m->mem_gib);
    const struct {
        const char *sep, *key, *v;
    } strs[] = {
        {", ", "kernel", m->kernel},
        {", ", "opencl_device", m->device},
        {", ", "opencl_device_version", m->device_version},
        {", ", "opencl_driver", m->driver},
        {",\n    ", "sluice_version", m->sluice},
        {", ", "sluice_commit", m->commit},
        {", ", "pocl_version", strstr(m->device, "Portable Computing Language") ? m->driver : ""},
        {", ", "redis_version", m->redis},
        {", ", "hiredis_version", m->hiredis},
        {", ", "duckdb_version", m->duckdb[0] ? m->duckdb : "not run"},
        {", ", "valgrind_version", m->valgrind[0] ? m->valgrind : "not run"},
        {", ", "gnuplot", m->gnuplot},
        {", ", "date", m->date},
    };
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
        fprintf(f, "%s\"%s\": ", strs[i].sep, strs[i].key);
        json_str(f, "", strs[i].v);
    }
    fprintf(f,
            ",\n    \"loadavg_start\": [%.2f, %.2f, %.2f], \"loadavg_end\": [%.2f, %.2f, %.2f]},\n",
            m->load_start[0], m->load_start[1], m->load_start[2], m->load_end[0], m->load_end[1],
            m->load_end[2]);
    fprintf(f, "  \"cases\": [");
    for (int i = 0; i < r->n; i++) {
        const rp_case *c = &r->cases[i];
        fprintf(f, "%s\n    {\"workload\": ", i ? "," : "");
        json_str(f, "", c->workload);
        json_str(f, ", \"label\": ", c->label);
        json_num(f, ", \"x\": ", c->x);
        json_num(f, ", \"x2\": ", c->x2);
        fprintf(f, ", \"events\": %llu, \"results_equal\": %s, \"check\": ",
                (unsigned long long)c->events, c->equal ? "true" : "false");
        json_str(f, "", c->check);
        fprintf(f, ",\n     \"systems\": [");
        for (int k = 0; k < c->nsys; k++) {
            const rp_system *s = &c->sys[k];
            fprintf(f, "%s\n      {\"name\": ", k ? "," : "");
            json_str(f, "", s->name);
            fprintf(f, ", \"series\": {");
            for (int j = 0; j < s->ns; j++) {
                const rp_series *x = &s->s[j];
                double lo, hi, md = rp_median(x, &lo, &hi);
                fprintf(f, "%s\n        ", j ? "," : "");
                json_str(f, "", x->name);
                json_str(f, ": {\"unit\": ", x->unit);
                json_num(f, ", \"median\": ", md);
                json_num(f, ", \"min\": ", lo);
                json_num(f, ", \"max\": ", hi);
                fprintf(f, ", \"samples\": [");
                for (int v = 0; v < x->n; v++)
                    json_num(f, v ? ", " : "", x->v[v]);
                fprintf(f, "]}");
            }
            fprintf(f, "}}");
        }
        fprintf(f, "]}");
    }
    fprintf(f, "\n  ]\n}\n");
    return fclose(f) == 0 ? 0 : SL_EIO;
}

/* ---- plots ---- */

/* One .dat file of `workload`'s cases: x, then per system of the first case "median min max"
 * of eps in M events/s. Returns the number of systems written (0: no such case). */
static int write_tp_dat(const rp_report *r, const char *workload, const char *path)
{
    const rp_case *first = NULL;
    for (int i = 0; i < r->n && !first; i++)
        if (strcmp(r->cases[i].workload, workload) == 0)
            first = &r->cases[i];
    if (!first)
        return 0;
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fprintf(f, "x");
    for (int k = 0; k < first->nsys; k++) {
        fprintf(f, " \"%s\" min max", first->sys[k].name);
    }
    fprintf(f, "\n");
    for (int i = 0; i < r->n; i++) {
        const rp_case *c = &r->cases[i];
        if (strcmp(c->workload, workload) != 0)
            continue;
        fprintf(f, "%g", c->x);
        for (int k = 0; k < first->nsys; k++) {
            const rp_series *e = NULL;
            for (int j = 0; j < c->nsys && !e; j++)
                if (strcmp(c->sys[j].name, first->sys[k].name) == 0)
                    e = rp_get(&c->sys[j], "eps");
            double lo = NAN, hi = NAN, md = e ? rp_median(e, &lo, &hi) : NAN;
            fprintf(f, " %g %g %g", md / 1e6, lo / 1e6, hi / 1e6);
        }
        fprintf(f, "\n");
    }
    fclose(f);
    return first->nsys;
}

/* latency.dat: one line per latency case of the first system: label-free columns
 * eps(M) p50 p99 p999 batch paced(0/1). */
static int write_lat_dat(const rp_report *r, const char *path)
{
    FILE *f = fopen(path, "w");
    int n = 0;
    if (!f)
        return -1;
    fprintf(f, "eps p50 p99 p999 batch paced\n");
    for (int i = 0; i < r->n; i++) {
        const rp_case *c = &r->cases[i];
        int paced = strcmp(c->workload, "sweep_rate") == 0;
        if (!paced && strcmp(c->workload, "sweep_batch") != 0)
            continue;
        const rp_system *s = &c->sys[0];
        if (!rp_get(s, "lat_p99_ms"))
            continue;
        fprintf(f, "%g %g %g %g %g %d\n", med(s, "eps") / 1e6, med(s, "lat_p50_ms"),
                med(s, "lat_p99_ms"), med(s, "lat_p999_ms"), paced ? c->x2 : c->x, paced);
        n++;
    }
    fclose(f);
    return n;
}

int rp_plots(const rp_report *r, const char *dir, const char *plots_dir, char *msg, size_t msglen)
{
    char path[2048], cmd[8192];
    static const struct {
        const char *workload, *dat, *script;
    } tp[] = {{"sweep_keys", "keys.dat", "throughput_keys.gp"},
              {"sweep_skew", "skew.dat", "throughput_skew.gp"},
              {"sweep_nodes", "nodes.dat", "throughput_nodes.gp"}};
    for (size_t i = 0; i < sizeof tp / sizeof *tp; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, tp[i].dat);
        int n = write_tp_dat(r, tp[i].workload, path);
        if (n < 0) {
            snprintf(msg, msglen, "%s: cannot write: %s", path, strerror(errno));
            return SL_EIO;
        }
        if (n == 0)
            continue;
        snprintf(cmd, sizeof cmd, "gnuplot -e \"dir='%s'; n=%d\" '%s/%s' 2>&1", dir, n, plots_dir,
                 tp[i].script);
        char out[512];
        if (first_line(cmd, out, sizeof out) != 0) {
            snprintf(msg, msglen, "gnuplot %s: %s", tp[i].script, out);
            return SL_EIO;
        }
    }
    snprintf(path, sizeof path, "%s/latency.dat", dir);
    int n = write_lat_dat(r, path);
    if (n < 0) {
        snprintf(msg, msglen, "%s: cannot write: %s", path, strerror(errno));
        return SL_EIO;
    }
    if (n > 0) {
        snprintf(cmd, sizeof cmd, "gnuplot -e \"dir='%s'\" '%s/latency.gp' 2>&1", dir, plots_dir);
        char out[512];
        if (first_line(cmd, out, sizeof out) != 0) {
            snprintf(msg, msglen, "gnuplot latency.gp: %s", out);
            return SL_EIO;
        }
    }
    return 0;
}

void rp_free(rp_report *r)
{
    free(r->cases);
    r->cases = NULL;
    r->n = r->cap = 0;
}
