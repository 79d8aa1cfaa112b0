/* What the benchmark suite measured, and how it is shown: a set of cases (a workload with its
 * parameters), each with the systems run on it and, per system, named series of one value per
 * repetition. Printed as a table (median, min, max), written as JSON with every sample and the
 * machine, and plotted with gnuplot (the scripts in bench/plots over .dat files this module
 * writes).
 *
 * Also the process measurements the suite takes around each run: CPU time (getrusage) and peak
 * resident memory (VmHWM, reset through /proc/self/clear_refs where the kernel allows it).
 *
 * One thread owns a report. */
#ifndef BENCH_REPORT_H
#define BENCH_REPORT_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define RP_MAXREP 64
#define RP_MAXSERIES 20
#define RP_MAXSYS 8

typedef struct rp_series {
    char name[32]; /* e.g. "eps" */
    char unit[16]; /* e.g. "events/s" */
    double v[RP_MAXREP];
    int n;
} rp_series;

typedef struct rp_system {
    char name[40];
    rp_series s[RP_MAXSERIES];
    int ns;
} rp_system;

typedef struct rp_case {
    char workload[24]; /* ctr, insns, ysb, file, sweep_keys, sweep_skew, sweep_batch, sweep_rate,
                          nodes */
    char label[128];   /* the parameters, in words */
    double x;          /* the swept parameter (plots) */
    double x2;         /* a second one (sweep_rate: batch size) */
    uint64_t events;   /* input events of one repetition */
    int equal;         /* 1: every system's results equal the plain C ones on every repetition */
    char check[512];   /* what was compared, or the first difference */
    rp_system sys[RP_MAXSYS];
    int nsys;
} rp_case;

typedef struct rp_machine {
    char cpu[128];
    long cores;
    char device[300];
    char device_version[128];
    char driver[64];
    char sluice[32];
    char commit[48]; /* git describe of the source tree, when it is a checkout */
    char redis[32];
    char hiredis[16];
    char duckdb[48];   /* the file workload's DuckDB, or "not run" */
    char valgrind[48]; /* the insns workload's valgrind, "not run" or "not installed" */
    char gnuplot[64];
    char date[40];
    char kernel[256];
    double load_start[3], load_end[3];
    double mem_gib;
} rp_machine;

typedef struct rp_report {
    rp_machine m;
    rp_case *cases;
    int n, cap;
    char command[1024];
    double elapsed_s;
    int quick;
} rp_report;

/* Adds a case. Returns it, or NULL when out of memory. */
rp_case *rp_case_add(rp_report *r, const char *workload, const char *label, double x,
                     uint64_t events);

/* The system called `name` in c, added when new (NULL past RP_MAXSYS). */
rp_system *rp_sys(rp_case *c, const char *name);

/* Appends one repetition's value to the series `name` of s (added when new). */
void rp_add(rp_system *s, const char *name, const char *unit, double v);

/* The series `name` of s, or NULL. */
const rp_series *rp_get(const rp_system *s, const char *name);

/* Median (of the sorted values; the upper one of the middle two), min and max. n > 0. */
double rp_median(const rp_series *s, double *min, double *max);

/* Fills the machine fields that do not depend on the run (CPU, cores, date, kernel, memory,
 * load, gnuplot's version, the commit of the sources at source_dir). */
void rp_machine_probe(rp_machine *m, const char *source_dir);

/* Load averages now (1, 5, 15 minutes). */
void rp_loadavg(double l[3]);

/* Prints the table of every case. */
void rp_print_table(const rp_report *r, FILE *out);

/* Writes the JSON file. Returns 0 or SL_EIO. */
int rp_write_json(const rp_report *r, const char *path);

/* Writes the .dat files into dir and runs gnuplot on each bench/plots script in plots_dir, writing
 * PNG and SVG into dir. Returns 0, or SL_EIO with msg (gnuplot missing or failing). */
int rp_plots(const rp_report *r, const char *dir, const char *plots_dir, char *msg, size_t msglen);

/* Process measurements. */
double rp_cpu_s(void);        /* user + system CPU seconds of this process, all threads */
void rp_mem_reset_peak(void); /* resets VmHWM to the current RSS when the kernel allows */
double rp_mem_rss_mb(void);   /* VmRSS, MiB */
double rp_mem_peak_mb(void);  /* VmHWM, MiB */
int rp_mem_peak_resettable(void);

void rp_free(rp_report *r);

#endif
