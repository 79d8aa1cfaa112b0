/* Output handling: host/outfile (temporary file renamed over the output only on success) on its
 * own, and through the `sluice` binary: an output that is the input is refused, a failed run
 * leaves an existing output as it was, and I/O errors name the file and the reason. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "err.h"
#include "outfile.h"
#include "proc.h"

static void assert_file(const char *path, const char *want)
{
    char *got = tu_read_file(path, NULL);
    cr_assert_not_null(got, "%s is missing", path);
    cr_assert_str_eq(got, want, "%s", path);
    free(got);
}

/* Asserts the temporary folder holds exactly the names in `names` (NULL-terminated): no
 * temporary file was left behind. */
static void assert_dir_holds(const char *const *names)
{
    DIR *d = opendir(tmpdir);
    cr_assert_not_null(d);
    size_t want = 0, seen = 0;
    while (names[want])
        want++;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        int known = 0;
        for (size_t i = 0; i < want; i++)
            known |= strcmp(e->d_name, names[i]) == 0;
        cr_assert(known, "unexpected file %s in %s", e->d_name, tmpdir);
        seen++;
    }
    closedir(d);
    cr_assert_eq(seen, want, "%zu files in %s, expected %zu", seen, tmpdir, want);
}

/* ---- the module ---- */

Test(outfile, new_file_appears_on_commit_with_the_umask, .init = setup)
{
    char msg[1024];
    sl_outfile *of;
    mode_t old = umask(027);
    cr_assert_eq(sl_outfile_open(tpath("new.csv"), &of, msg, sizeof msg), 0, "%s", msg);
    umask(old);
    fputs("a,1\n", sl_outfile_stream(of));
    cr_assert_eq(fflush(sl_outfile_stream(of)), 0);
    /* Written so far to a temporary file beside it; the output does not exist yet. */
    cr_assert_null(tu_read_file(tpath("new.csv"), NULL));
    cr_assert_eq(hidden_files(), 1);
    cr_assert_eq(sl_outfile_commit(&of, msg, sizeof msg), 0, "%s", msg);
    cr_assert_null(of);
    assert_file(tpath("new.csv"), "a,1\n");
    struct stat st;
    cr_assert_eq(stat(tpath("new.csv"), &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0640, "mode %o", (unsigned)(st.st_mode & 07777));
    const char *names[] = {"new.csv", NULL};
    assert_dir_holds(names);
}

Test(outfile, abort_leaves_an_existing_file_alone, .init = setup)
{
    char msg[1024];
    sl_outfile *of;
    tu_write_file(tpath("out.csv"), "old contents\n");
    cr_assert_eq(chmod(tpath("out.csv"), 0604), 0);
    cr_assert_eq(sl_outfile_open(tpath("out.csv"), &of, msg, sizeof msg), 0, "%s", msg);
    for (int i = 0; i < 100000; i++) /* more than the stream buffers */
        fprintf(sl_outfile_stream(of), "row %d\n", i);
    assert_file(tpath("out.csv"), "old contents\n");
    sl_outfile_abort(&of);
    cr_assert_null(of);
    assert_file(tpath("out.csv"), "old contents\n");
    const char *names[] = {"out.csv", NULL};
    assert_dir_holds(names);

    /* Committed, it replaces the file and keeps its mode. */
    cr_assert_eq(sl_outfile_open(tpath("out.csv"), &of, msg, sizeof msg), 0, "%s", msg);
    fputs("new\n", sl_outfile_stream(of));
    cr_assert_eq(sl_outfile_commit(&of, msg, sizeof msg), 0, "%s", msg);
    assert_file(tpath("out.csv"), "new\n");
    struct stat st;
    cr_assert_eq(stat(tpath("out.csv"), &st), 0);
    cr_assert_eq(st.st_mode & 07777, 0604, "mode %o", (unsigned)(st.st_mode & 07777));
    assert_dir_holds(names);
    sl_outfile_abort(&of); /* NULL: nothing */
}

Test(outfile, symlinked_output_replaces_its_target, .init = setup)
{
    char msg[1024];
    sl_outfile *of;
    cr_assert_eq(mkdir(tpath("sub"), 0755), 0);
    tu_write_file(tpath("sub/target.csv"), "old\n");
    cr_assert_eq(symlink("sub/target.csv", tpath("link.csv")), 0);
    cr_assert_eq(sl_outfile_open(tpath("link.csv"), &of, msg, sizeof msg), 0, "%s", msg);
    fputs("new\n", sl_outfile_stream(of));
    cr_assert_eq(sl_outfile_commit(&of, msg, sizeof msg), 0, "%s", msg);
    struct stat st;
    cr_assert_eq(lstat(tpath("link.csv"), &st), 0);
    cr_assert(S_ISLNK(st.st_mode), "the link was replaced");
    assert_file(tpath("sub/target.csv"), "new\n");
    const char *names[] = {"sub", "link.csv", NULL};
    assert_dir_holds(names);
}

Test(outfile, missing_folders_are_made_with_the_umask, .init = setup)
{
    char msg[1024], path[1024];
    sl_outfile *of;
    snprintf(path, sizeof path, "%s/a//b/c/x.csv", tmpdir);
    mode_t old = umask(027);
    cr_assert_eq(sl_outfile_open(path, &of, msg, sizeof msg), 0, "%s", msg);
    umask(old);
    fputs("x\n", sl_outfile_stream(of));
    cr_assert_eq(sl_outfile_commit(&of, msg, sizeof msg), 0, "%s", msg);
    assert_file(tpath("a/b/c/x.csv"), "x\n");
    const char *dirs[] = {"a", "a/b", "a/b/c"};
    for (int i = 0; i < 3; i++) {
        struct stat st;
        cr_assert_eq(stat(tpath(dirs[i]), &st), 0, "%s", dirs[i]);
        cr_assert(S_ISDIR(st.st_mode), "%s", dirs[i]);
        cr_assert_eq(st.st_mode & 07777, 0750, "%s: mode %o", dirs[i],
                     (unsigned)(st.st_mode & 07777));
    }
    /* An existing folder below is kept; in place (snapshots) makes them too. */
    cr_assert_eq(
        sl_outfile_open_mode(tpath("a/d/y.csv"), SL_OUTFILE_IN_PLACE, &of, msg, sizeof msg), 0,
        "%s", msg);
    cr_assert_eq(sl_outfile_commit(&of, msg, sizeof msg), 0, "%s", msg);
    assert_file(tpath("a/d/y.csv"), "");
    assert_file(tpath("a/b/c/x.csv"), "x\n");
    const char *names[] = {"a", NULL};
    assert_dir_holds(names);
}

Test(outfile, open_errors_name_the_file_or_folder, .init = setup)
{
    char msg[1024], want[1400];
    sl_outfile *of = NULL;
    tu_write_file(tpath("afile"), "not a folder\n");
    cr_assert_eq(sl_outfile_open(tpath("afile/sub/x.csv"), &of, msg, sizeof msg), SL_EIO);
    cr_assert_null(of);
    snprintf(want, sizeof want, "cannot create folder %s for output %s: Not a directory",
             tpath("afile"), tpath("afile/sub/x.csv"));
    cr_assert_str_eq(msg, want);
    cr_assert_eq(sl_outfile_make_folder(tpath("afile/x.csv"), msg, sizeof msg), SL_EIO);
    cr_assert_eq(sl_outfile_open(tmpdir, &of, msg, sizeof msg), SL_EIO);
    snprintf(want, sizeof want, "cannot open output %s: Is a directory", tmpdir);
    cr_assert_str_eq(msg, want);
    const char *names[] = {"afile", NULL};
    assert_dir_holds(names);
}

Test(outfile, device_output_is_written_in_place)
{
    char msg[1024];
    sl_outfile *of;
    cr_assert_eq(sl_outfile_open("/dev/null", &of, msg, sizeof msg), 0, "%s", msg);
    fputs("x\n", sl_outfile_stream(of));
    cr_assert_eq(sl_outfile_commit(&of, msg, sizeof msg), 0, "%s", msg);
    struct stat st;
    cr_assert_eq(stat("/dev/null", &st), 0);
    cr_assert(S_ISCHR(st.st_mode));

    /* A write that fails keeps its errno for the message. */
    cr_assert_eq(sl_outfile_open("/dev/full", &of, msg, sizeof msg), 0, "%s", msg);
    for (int i = 0; i < 100000; i++)
        fprintf(sl_outfile_stream(of), "row %d\n", i);
    cr_assert_eq(sl_outfile_error(of), ENOSPC);
    cr_assert_eq(sl_outfile_commit(&of, msg, sizeof msg), SL_EIO);
    cr_assert_str_eq(msg, "writing /dev/full failed: No space left on device");
    cr_assert_eq(stat("/dev/full", &st), 0);
    cr_assert(S_ISCHR(st.st_mode));
}

Test(outfile, output_that_is_the_input, .init = setup)
{
    char msg[1024], want[1400];
    tu_write_file(tpath("in.json"), "{}\n");
    int fd = open(tpath("in.json"), O_RDONLY);
    cr_assert_geq(fd, 0);
    cr_assert_eq(
        sl_outfile_check_not_input(tpath("in.json"), fd, tpath("in.json"), msg, sizeof msg),
        SL_EINVAL);
    snprintf(want, sizeof want,
             "the output %s is the input file; writing it would destroy the input",
             tpath("in.json"));
    cr_assert_str_eq(msg, want);
    /* Another name for it: a hard link, a symbolic link, a path through "..". */
    cr_assert_eq(link(tpath("in.json"), tpath("hard.json")), 0);
    cr_assert_eq(symlink("in.json", tpath("soft.json")), 0);
    cr_assert_eq(mkdir(tpath("sub"), 0755), 0);
    const char *aliases[] = {"hard.json", "soft.json", "sub/../in.json"};
    for (int i = 0; i < 3; i++)
        cr_assert_eq(sl_outfile_check_not_input(tpath(aliases[i]), fd, NULL, msg, sizeof msg),
                     SL_EINVAL, "%s", aliases[i]);
    /* Other files are fine, existing or not. */
    tu_write_file(tpath("other.json"), "{}\n");
    cr_assert_eq(
        sl_outfile_check_not_input(tpath("other.json"), fd, tpath("in.json"), msg, sizeof msg), 0);
    cr_assert_eq(
        sl_outfile_check_not_input(tpath("new.csv"), fd, tpath("in.json"), msg, sizeof msg), 0);
    cr_assert_eq(sl_outfile_check_not_input(tpath("in.json"), -1, NULL, msg, sizeof msg), 0);
    close(fd);
    assert_file(tpath("in.json"), "{}\n");
}

Test(outfile, killed_run_leaves_no_temporary_file, .init = setup)
{
    tu_write_file(tpath("out.csv"), "old\n");
    pid_t pid = fork();
    cr_assert_neq(pid, -1);
    if (pid == 0) {
        char msg[1024];
        sl_outfile *of;
        if (sl_outfile_open(tpath("out.csv"), &of, msg, sizeof msg) != 0)
            _exit(3);
        fputs("partial\n", sl_outfile_stream(of));
        fflush(sl_outfile_stream(of));
        if (hidden_files() != 1)
            _exit(4);
        raise(SIGTERM);
        _exit(5);
    }
    int st;
    cr_assert_eq(waitpid(pid, &st, 0), pid);
    cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM, "status %#x", st);
    assert_file(tpath("out.csv"), "old\n");
    const char *names[] = {"out.csv", NULL};
    assert_dir_holds(names);
}

/* ---- through the sluice binary ---- */

static const char events[] = "{\"ad_id\":\"a\",\"event_type\":\"view\",\"event_time\":1}\n"
                             "{\"ad_id\":\"b\",\"event_type\":\"view\",\"event_time\":2}\n"
                             "{\"ad_id\":\"a\",\"event_type\":\"click\",\"event_time\":3}\n"
                             "{\"ad_id\":\"a\",\"event_type\":\"view\",\"event_time\":4}\n";
/* Worked out by hand: a has 2 views and 1 click, b 1 view. */
static const char events_csv[] = "ad_id,impressions,clicks,ctr\n"
                                 "a,2,1,0.5\n"
                                 "b,1,0,0\n";
static const char old_output[] = "an earlier result\nthat must survive\n";

/* Runs `sluice ARGS`, asserts its exit status, and that the file `name` then holds `want` (NULL:
 * that there is no such file). */
static void run_leaves(const char *args, int status, const char *name, const char *want)
{
    struct run r = run_sh_status(args, status);
    if (want)
        assert_file(tpath(name), want);
    else
        cr_assert_null(tu_read_file(tpath(name), NULL), "%s: %s exists", args, name);
    run_free(&r);
}

Test(cli_output, output_that_is_the_input_is_refused, .init = setup, .timeout = 120)
{
    tu_write_file(tpath("ev.json"), events);
    struct run r = run_sh_status("ctr --input ev.json --output ev.json -q", 2);
    cr_assert_not_null(
        strstr(r.err, "the output ev.json is the input file; writing it would destroy the input"),
        "stderr: %s", r.err);
    assert_file(tpath("ev.json"), events);
    run_free(&r);

    /* Another path to it, and stdin redirected from it. */
    run_leaves("ctr --input ev.json --output ./../$(basename $PWD)/ev.json -q", 2, "ev.json",
               events);
    run_leaves("ctr --input - --output ev.json -q <ev.json", 2, "ev.json", events);

    /* The same through a topology file. */
    tu_write_file(tpath("t.yaml"), "source: {type: file, path: ev.json}\npe: {kind: ctr}\n"
                                   "sink: {path: ev.json}\n");
    r = run_sh_status("run t.yaml -q", 2);
    cr_assert_not_null(strstr(r.err, "is the input file"), "stderr: %s", r.err);
    assert_file(tpath("ev.json"), events);
    run_free(&r);
    const char *names[] = {"ev.json", "t.yaml", NULL};
    assert_dir_holds(names);
}

Test(cli_output, failed_run_leaves_the_output_alone, .init = setup, .timeout = 120)
{
    tu_write_file(tpath("ev.json"), events);
    tu_write_file(tpath("bad.json"),
                  "{\"ad_id\":\"a\",\"event_type\":\"view\",\"event_time\":1}\n"
                  "not json\n"
                  "{\"ad_id\":\"b\",\"event_type\":\"view\",\"event_time\":2}\n");
    tu_write_file(tpath("out.csv"), old_output);

    run_leaves("ctr --input bad.json --output out.csv --strict -q", 2, "out.csv", old_output);
    run_leaves("ctr --input ev.json --output out.csv --device no-such-device-anywhere -q", 1,
               "out.csv", old_output);

    /* A run that fails leaves no output where there was none. */
    run_leaves("ctr --input bad.json --output fresh.csv --strict -q", 2, "fresh.csv", NULL);
    const char *names[] = {"ev.json", "bad.json", "out.csv", NULL};
    assert_dir_holds(names);

    /* A run that succeeds replaces it. */
    run_leaves("ctr --input ev.json --output out.csv -q", 0, "out.csv", events_csv);
    assert_dir_holds(names);
}

Test(cli_output, io_errors_name_the_file_and_the_reason, .init = setup, .timeout = 120)
{
    tu_write_file(tpath("ev.json"), events);
    cr_assert_eq(mkdir(tpath("adir"), 0755), 0);

    struct run r = run_sh("ctr --input adir --output out.csv -q");
    cr_assert_neq(r.status, 0);
    cr_assert_str_eq(r.err, "sluice: cannot read input adir: Is a directory\n");
    cr_assert_null(tu_read_file(tpath("out.csv"), NULL));
    run_free(&r);

    r = run_sh_status("ctr --input ev.json --output /dev/full -q", 1);
    cr_assert_not_null(strstr(r.err, "sluice: writing /dev/full failed: No space left on device\n"),
                       "stderr: %s", r.err);
    run_free(&r);

    r = run_sh_status("ctr --input ev.json --output ev.json/out.csv -q", 1);
    cr_assert_str_eq(r.err, "sluice: cannot create folder ev.json for output ev.json/out.csv: Not "
                            "a directory\n");
    run_free(&r);

    /* stdout is written as before. */
    r = run_sh_status("ctr --input ev.json -q", 0);
    cr_assert_str_eq(r.out, events_csv);
    run_free(&r);
    const char *names[] = {"ev.json", "adir", NULL};
    assert_dir_holds(names);
}
