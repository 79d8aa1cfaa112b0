/* A ZooKeeper server for a test; see zkserver.h. */
#include "zkserver.h"

#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util.h"

static unsigned free_loopback_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    cr_assert(eq(int, bind(fd, (struct sockaddr *)&sa, sizeof sa), 0));
    cr_assert(eq(int, getsockname(fd, (struct sockaddr *)&sa, &len), 0));
    close(fd);
    return ntohs(sa.sin_port);
}

/* Runs tests/zk.sh with args; returns its exit status. */
static int script(const char *args)
{
    char cmd[1400];
    snprintf(cmd, sizeof cmd, "bash '%s/tests/zk.sh' %s", SLUICE_SOURCE_DIR, args);
    int st = system(cmd);
    return st == -1 ? -1 : WEXITSTATUS(st);
}

static void start(struct zkserver *z)
{
    char args[700];
    snprintf(args, sizeof args, "start '%s' %u %ld >/dev/null", z->dir, z->port, (long)getpid());
    int st = script(args);
    if (st == 2)
        cr_skip_test("ZooKeeper is not installed (Debian: zookeeperd)");
    cr_assert(eq(int, st, 0), "tests/zk.sh start %s %u failed (see its zookeeper.log)", z->dir,
              z->port);
}

void zks_start(struct zkserver *z)
{
    if (access("/usr/share/java/zookeeper.jar", R_OK) != 0)
        cr_skip_test("ZooKeeper is not installed (Debian: zookeeperd)");
    tu_mkdtemp(z->dir, sizeof z->dir, "zk");
    z->port = free_loopback_port();
    snprintf(z->connect, sizeof z->connect, "127.0.0.1:%u", z->port);
    start(z);
}

void zks_stop(struct zkserver *z)
{
    char args[600];
    snprintf(args, sizeof args, "stop '%s'", z->dir);
    cr_assert(eq(int, script(args), 0), "tests/zk.sh stop %s", z->dir);
}

void zks_restart(struct zkserver *z)
{
    start(z);
}

void zks_destroy(struct zkserver *z)
{
    if (!z->dir[0])
        return;
    char args[600];
    snprintf(args, sizeof args, "stop '%s'", z->dir);
    script(args);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", z->dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", z->dir);
    z->dir[0] = '\0';
}
