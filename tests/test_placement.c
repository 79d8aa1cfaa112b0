/* Tests of host/placement.c: device placement against synthetic and XML topologies, config
 * overrides, and binding the current thread on the real machine.
 *
 * tests/data/placement-2numa.xml is hwloc's "pack:2 numa:1 core:4 pu:1" (NUMA node 0: cpus
 * 0-3, node 1: cpus 4-7) with I/O objects added:
 *   package 0: PCI 0000:03:00.0 (GPU) with OpenCL object opencl0d0
 *   package 1: PCI 0000:81:00.0 (GPU) with opencl0d1, PCI 0000:82:00.0 (FPGA) with opencl1d0
 * tests/data/placement-4numa.xml is "pack:2 numa:2 core:2 pu:2" (node n: cpus 4n..4n+3):
 *   node 1: PCI 0000:17:00.0; node 2: PCI 0000:65:00.0;
 *   node 3: PCI 0000:ca:00.0 with opencl1d0; package 1 itself (nodes 2-3): PCI 0000:b3:00.0
 *
 * Criterion forks per test, so a test may bind its own thread freely, and each test that needs
 * OpenCL opens it itself. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <linux/mempolicy.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <hwloc.h>

#include "device.h"
#include "err.h"
#include "placement.h"

#define XML2 SLUICE_SOURCE_DIR "/tests/data/placement-2numa.xml"
#define XML4 SLUICE_SOURCE_DIR "/tests/data/placement-4numa.xml"

static char msg[1024];

static sl_topo *load(const char *desc)
{
    sl_topo *t = NULL;
    int rc = sl_topo_load(&t, desc, msg, sizeof msg);
    cr_assert_eq(rc, 0, "sl_topo_load(%s): %s: %s", desc ? desc : "NULL", sl_strerror(rc), msg);
    cr_assert_not_null(t);
    return t;
}

static sl_devloc gpu_at(const char *busid)
{
    sl_devloc l;
    sl_devloc_init(&l, SL_DEVLOC_GPU, "Vendor / GPU");
    cr_assert_eq(sl_devloc_set_pci(&l, busid), 0, "bus id %s", busid);
    return l;
}

/* A device of `kind` named `name` at OpenCL platform and device indices (no PCI address). */
static sl_devloc devloc(enum sl_devloc_kind kind, const char *name, int platform, int device)
{
    sl_devloc l;
    sl_devloc_init(&l, kind, name);
    l.cl_platform = platform;
    l.cl_device = device;
    return l;
}

static sl_placement place(const sl_topo *t, const sl_devloc *l, const sl_place_override *ov)
{
    sl_placement p;
    memset(&p, 0x5a, sizeof p);
    int rc = sl_topo_place(t, l, ov, &p, msg, sizeof msg);
    cr_assert_eq(rc, 0, "sl_topo_place(%s): %s: %s", l->name, sl_strerror(rc), msg);
    return p;
}

#define EXPECT_PLACE(p, numa_, cpus_, nodes_, source_, how_)                                       \
    do {                                                                                           \
        cr_assert_eq((p).numa, (numa_), "numa %d, want %d (%s)", (p).numa, (numa_), (p).how);      \
        cr_assert_str_eq((p).cpus, (cpus_), "cpus %s, want %s (%s)", (p).cpus, (cpus_), (p).how);  \
        cr_assert_str_eq((p).nodes, (nodes_), "nodes %s, want %s", (p).nodes, (nodes_));           \
        cr_assert_eq((p).source, (source_), "source %s, want %s (%s)",                             \
                     sl_place_source_name((p).source), sl_place_source_name(source_), (p).how);    \
        cr_assert_str_eq((p).how, (how_));                                                         \
    } while (0)

static sl_place_override ovr(const char *device, int numa, const char *cpus)
{
    sl_place_override o;
    memset(&o, 0, sizeof o);
    snprintf(o.device, sizeof o.device, "%s", device);
    o.numa = numa;
    snprintf(o.cpus, sizeof o.cpus, "%s", cpus);
    return o;
}

/* ---- topologies ---------------------------------------------------------------------------- */

Test(placement, synthetic_topologies_load)
{
    sl_topo *t = load("pack:2 numa:1 core:4 pu:1");
    cr_assert_eq(sl_topo_numa_count(t), 2);
    cr_assert_eq(sl_topo_is_this_machine(t), 0);
    sl_topo_free(&t);
    cr_assert_null(t);
    sl_topo_free(&t); /* NULL-safe */
    t = load("pack:2 numa:2 core:2 pu:2");
    cr_assert_eq(sl_topo_numa_count(t), 4);
    sl_topo_free(&t);
}

Test(placement, load_errors)
{
    sl_topo *t = (sl_topo *)&msg; /* must be reset to NULL */
    int rc = sl_topo_load(&t, "pack:banana", msg, sizeof msg);
    cr_assert_eq(rc, SL_EINVAL, "rc %d", rc);
    cr_assert_null(t);
    cr_assert(strstr(msg, "hwloc refused the synthetic topology \"pack:banana\""), "%s", msg);

    rc = sl_topo_load(&t, "/nonexistent/topo.xml", msg, sizeof msg);
    cr_assert_eq(rc, SL_EIO, "rc %d", rc);
    cr_assert_str_eq(msg, "/nonexistent/topo.xml: cannot open: No such file or directory");

    rc = sl_topo_load(&t, "<topology version=\"2.0\"><object", msg, sizeof msg);
    cr_assert_eq(rc, SL_EINVAL, "rc %d: %s", rc, msg);
    cr_assert(strstr(msg, "XML topology"), "%s", msg);
    cr_assert_null(t);
}

Test(placement, xml_from_file_and_from_memory)
{
    FILE *f = fopen(XML4, "rb");
    cr_assert_not_null(f, "%s", XML4);
    static char buf[65536];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    cr_assert(n > 0 && n < sizeof buf - 1);
    buf[n] = '\0';
    sl_topo *tf = load(XML4), *tm = load(buf);
    cr_assert_eq(sl_topo_numa_count(tf), 4);
    cr_assert_eq(sl_topo_numa_count(tm), 4);
    sl_devloc g = gpu_at("0000:65:00.0");
    sl_placement a = place(tf, &g, NULL), b = place(tm, &g, NULL);
    cr_assert_str_eq(a.cpus, b.cpus);
    cr_assert_eq(a.numa, 2);
    cr_assert_eq(b.numa, 2);
    sl_topo_free(&tf);
    sl_topo_free(&tm);
}

/* ---- locators ------------------------------------------------------------------------------ */

Test(placement, pci_bus_ids)
{
    sl_devloc l;
    char s[32];
    sl_devloc_init(&l, SL_DEVLOC_ACCEL, "x");
    cr_assert_eq(l.has_pci, 0);
    cr_assert_eq(l.cl_platform, -1);
    cr_assert_eq(l.cl_device, -1);
    cr_assert_str_eq(sl_devloc_pci_str(&l, s, sizeof s), "");
    cr_assert_eq(sl_devloc_set_pci(&l, "0000:81:00.0"), 0);
    cr_assert_str_eq(sl_devloc_pci_str(&l, s, sizeof s), "0000:81:00.0");
    cr_assert_eq(sl_devloc_set_pci(&l, "3B:1f.7"), 0);
    cr_assert_eq(l.pci_domain, 0);
    cr_assert_eq(l.pci_bus, 0x3b);
    cr_assert_eq(l.pci_dev, 0x1f);
    cr_assert_eq(l.pci_func, 7);
    cr_assert_eq(sl_devloc_set_pci(&l, "10001:02:03.1"), SL_EINVAL, "domain over 0xffff");
    static const char *const bad[] = {"",           "81",          "81:00",         "81:00.8",
                                      "81:20.0",    "0000:81:00",  "0000:81:00.0x", "g1:00.0",
                                      "1:2:3:04.0", "0000:181:0.0"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_assert_eq(sl_devloc_set_pci(&l, bad[i]), SL_EINVAL, "\"%s\" accepted", bad[i]);
    cr_assert_str_eq(sl_devloc_pci_str(&l, s, sizeof s), "0000:3b:1f.7", "failures left it alone");
    cr_assert_eq(sl_devloc_set_pci(&l, NULL), SL_EINVAL);
}

/* ---- placement rules ----------------------------------------------------------------------- */

Test(placement, gpus_on_two_numa_nodes_by_pci)
{
    sl_topo *t = load(XML2);
    sl_devloc a = gpu_at("0000:03:00.0"), b = gpu_at("81:00.0");
    sl_placement pa = place(t, &a, NULL), pb = place(t, &b, NULL);
    EXPECT_PLACE(pa, 0, "0-3", "0", SL_PLACE_PCI, "PCI 0000:03:00.0 in hwloc");
    EXPECT_PLACE(pb, 1, "4-7", "1", SL_PLACE_PCI, "PCI 0000:81:00.0 in hwloc");
    cr_assert_eq(pa.ncpus, 4);
    cr_assert_eq(pb.ncpus, 4);
    sl_topo_free(&t);
}

Test(placement, devices_on_four_numa_nodes_by_pci)
{
    sl_topo *t = load(XML4);
    static const struct {
        const char *busid;
        int numa;
        const char *cpus, *nodes;
    } want[] = {
        {"0000:17:00.0", 1, "4-7", "1"},
        {"0000:65:00.0", 2, "8-11", "2"},
        {"0000:ca:00.0", 3, "12-15", "3"},
        {"0000:b3:00.0", -1, "8-15", "2-3"}, /* on the package: both of its nodes */
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        sl_devloc l = gpu_at(want[i].busid);
        sl_placement p = place(t, &l, NULL);
        char how[64];
        snprintf(how, sizeof how, "PCI %s in hwloc", want[i].busid);
        EXPECT_PLACE(p, want[i].numa, want[i].cpus, want[i].nodes, SL_PLACE_PCI, how);
    }
    sl_topo_free(&t);
}

Test(placement, opencl_object_comes_before_pci)
{
    sl_topo *t = load(XML2);
    /* Only the OpenCL indices: hwloc's object opencl0d1 sits on PCI 81:00.0, node 1. */
    sl_devloc l = devloc(SL_DEVLOC_GPU, "NVIDIA CUDA / A100", 0, 1);
    sl_placement p = place(t, &l, NULL);
    EXPECT_PLACE(p, 1, "4-7", "1", SL_PLACE_OPENCL,
                 "hwloc OpenCL object opencl0d1 at PCI 0000:81:00.0");
    /* The FPGA, second platform. */
    l = devloc(SL_DEVLOC_ACCEL, "Xilinx / u250", 1, 0);
    cr_assert_eq(sl_devloc_set_pci(&l, "0000:82:00.0"), 0);
    p = place(t, &l, NULL);
    EXPECT_PLACE(p, 1, "4-7", "1", SL_PLACE_OPENCL,
                 "hwloc OpenCL object opencl1d0 at PCI 0000:82:00.0");
    /* Indices without an object (opencl0d2): the PCI address answers. */
    l.cl_device = 2;
    p = place(t, &l, NULL);
    EXPECT_PLACE(p, 1, "4-7", "1", SL_PLACE_PCI, "PCI 0000:82:00.0 in hwloc");
    /* Indices naming another device than the PCI address: the address wins, and says so. */
    sl_devloc m = gpu_at("0000:03:00.0");
    m.cl_platform = 0;
    m.cl_device = 1;
    p = place(t, &m, NULL);
    EXPECT_PLACE(p, 0, "0-3", "0", SL_PLACE_PCI,
                 "PCI 0000:03:00.0 in hwloc (hwloc's opencl0d1 is at PCI 0000:81:00.0: not used)");
    sl_topo_free(&t);

    /* Same rule on four nodes. */
    t = load(XML4);
    l = devloc(SL_DEVLOC_ACCEL, "Xilinx / u250", 1, 0);
    p = place(t, &l, NULL);
    EXPECT_PLACE(p, 3, "12-15", "3", SL_PLACE_OPENCL,
                 "hwloc OpenCL object opencl1d0 at PCI 0000:ca:00.0");
    sl_topo_free(&t);
}

Test(placement, whole_machine_fallbacks)
{
    sl_topo *t = load(XML2);
    /* hwloc's opencl0d0 here is a GPU: a CPU device never has an object */
    sl_devloc cpu = devloc(SL_DEVLOC_CPU, "Portable Computing Language / pthread", 0, 0);
    sl_placement p = place(t, &cpu, NULL);
    EXPECT_PLACE(p, -1, "0-7", "0-1", SL_PLACE_MACHINE, "CPU device: whole machine");
    cr_assert_eq(p.ncpus, 8);

    sl_devloc unknown = gpu_at("0000:42:00.0");
    p = place(t, &unknown, NULL);
    EXPECT_PLACE(p, -1, "0-7", "0-1", SL_PLACE_MACHINE,
                 "PCI 0000:42:00.0 not in hwloc's topology: whole machine");

    sl_devloc bare;
    sl_devloc_init(&bare, SL_DEVLOC_GPU, "Mystery / GPU");
    p = place(t, &bare, NULL);
    EXPECT_PLACE(p, -1, "0-7", "0-1", SL_PLACE_MACHINE,
                 "no hwloc OpenCL object and no PCI bus id for this device: whole machine");
    /* A GPU whose indices name hwloc's accelerator object: another device, not used. */
    bare.cl_platform = 1;
    bare.cl_device = 0;
    p = place(t, &bare, NULL);
    EXPECT_PLACE(p, -1, "0-7", "0-1", SL_PLACE_MACHINE,
                 "no hwloc OpenCL object and no PCI bus id for this device: whole machine "
                 "(hwloc's opencl1d0 is of type Accelerator: not used)");
    sl_topo_free(&t);

    /* A synthetic topology has no I/O objects at all: a GPU's address finds nothing. */
    t = load("pack:2 numa:2 core:2 pu:2");
    sl_devloc g = gpu_at("0000:17:00.0");
    p = place(t, &g, NULL);
    EXPECT_PLACE(p, -1, "0-15", "0-3", SL_PLACE_MACHINE,
                 "PCI 0000:17:00.0 not in hwloc's topology: whole machine");
    sl_topo_free(&t);

    /* One NUMA node: the whole machine is that node. */
    t = load("pack:1 numa:1 core:2 pu:1");
    p = place(t, &cpu, NULL);
    EXPECT_PLACE(p, 0, "0-1", "0", SL_PLACE_MACHINE, "CPU device: whole machine");
    sl_topo_free(&t);
}

/* ---- overrides ----------------------------------------------------------------------------- */

Test(placement, override_comes_first)
{
    sl_topo *t = load(XML2);
    sl_devloc g = gpu_at("0000:81:00.0"); /* node 1 by hwloc */
    g.cl_platform = 0;
    g.cl_device = 1;
    sl_place_override o = ovr("gpu", 0, "");
    sl_placement p = place(t, &g, &o);
    EXPECT_PLACE(p, 0, "0-3", "0", SL_PLACE_OVERRIDE, "config override for \"gpu\": numa 0");

    o = ovr("gpu", -1, "2-3"); /* cpus alone: the nodes follow the cpus */
    p = place(t, &g, &o);
    EXPECT_PLACE(p, 0, "2-3", "0", SL_PLACE_OVERRIDE, "config override for \"gpu\": cpus 2-3");
    cr_assert_eq(p.ncpus, 2);

    o = ovr("gpu", -1, "3-4,7"); /* across both nodes */
    p = place(t, &g, &o);
    EXPECT_PLACE(p, -1, "3-4,7", "0-1", SL_PLACE_OVERRIDE,
                 "config override for \"gpu\": cpus 3-4,7");

    o = ovr("gpu", 1, "0"); /* both: memory on node 1, threads where told */
    p = place(t, &g, &o);
    EXPECT_PLACE(p, 1, "0", "1", SL_PLACE_OVERRIDE, "config override for \"gpu\": numa 1, cpus 0");

    o = ovr("gpu", -1, ""); /* an entry that sets nothing changes nothing */
    p = place(t, &g, &o);
    cr_assert_eq(p.source, SL_PLACE_OPENCL);
    sl_topo_free(&t);

    t = load("pack:2 numa:2 core:2 pu:2");
    sl_devloc cpu;
    sl_devloc_init(&cpu, SL_DEVLOC_CPU, "PoCL / pthread");
    o = ovr("pthread", 3, "");
    p = place(t, &cpu, &o);
    EXPECT_PLACE(p, 3, "12-15", "3", SL_PLACE_OVERRIDE, "config override for \"pthread\": numa 3");
    sl_topo_free(&t);
}

Test(placement, bad_overrides)
{
    sl_topo *t = load("pack:2 numa:2 core:2 pu:2");
    sl_devloc cpu;
    sl_devloc_init(&cpu, SL_DEVLOC_CPU, "PoCL / pthread");
    static const struct {
        int numa;
        const char *cpus, *want;
    } cases[] = {
        {4, "",
         "placement for \"pthread\" (device PoCL / pthread): NUMA node 4 does not exist; this "
         "machine has 4 NUMA nodes (0..3)"},
        {1000, "1",
         "placement for \"pthread\" (device PoCL / pthread): NUMA node 1000 does not exist; "
         "this machine has 4 NUMA nodes (0..3)"},
        {-1, "12-16",
         "placement for \"pthread\" (device PoCL / pthread): cpus \"12-16\" names PUs this "
         "machine lacks (it has cpus 0-15)"},
        {-1, "0-",
         "placement for \"pthread\" (device PoCL / pthread): cpus \"0-\" names PUs this "
         "machine lacks (it has cpus 0-15)"},
        {0, "two",
         "placement for \"pthread\" (device PoCL / pthread): cpus \"two\" is not a cpu list "
         "such as \"0-3,8\""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        sl_place_override o = ovr("pthread", cases[i].numa, cases[i].cpus);
        sl_placement p, before;
        memset(&p, 0x33, sizeof p);
        before = p;
        int rc = sl_topo_place(t, &cpu, &o, &p, msg, sizeof msg);
        cr_assert_eq(rc, SL_ECONFIG, "case %zu: rc %d", i, rc);
        cr_assert_str_eq(msg, cases[i].want, "case %zu", i);
        cr_assert_eq(memcmp(&p, &before, sizeof p), 0, "case %zu: *out changed", i);
    }
    sl_topo_free(&t);
}

Test(placement, override_matching)
{
    sl_place_override ovs[3] = {ovr("CUDA / A100", 1, ""), ovr("pthread", 0, ""),
                                ovr("portable", 1, "")};
    cr_assert_eq(sl_place_override_find(ovs, 3, "Portable Computing Language / pthread-haswell"),
                 &ovs[1], "the first match wins");
    cr_assert_eq(sl_place_override_find(ovs, 3, "NVIDIA CUDA / a100-SXM4"), &ovs[0],
                 "ASCII case-insensitive");
    cr_assert_eq(sl_place_override_find(ovs, 1, "Portable Computing Language / pthread"), NULL);
    cr_assert_eq(sl_place_override_find(ovs, 3, "Intel / FPGA"), NULL);
    cr_assert_eq(sl_place_override_find(NULL, 0, "x"), NULL);
}

Test(placement, placement_string)
{
    sl_topo *t = load(XML4);
    char s[1024];
    sl_devloc l = gpu_at("0000:ca:00.0");
    sl_placement p = place(t, &l, NULL);
    cr_assert_str_eq(sl_placement_str(&p, s, sizeof s),
                     "NUMA node 3 (nodeset 3), cpus 12-15 [hwloc-pci: PCI 0000:ca:00.0 in hwloc]");
    l = gpu_at("0000:b3:00.0");
    p = place(t, &l, NULL);
    cr_assert_str_eq(sl_placement_str(&p, s, sizeof s),
                     "NUMA nodes 2-3, cpus 8-15 [hwloc-pci: PCI 0000:b3:00.0 in hwloc]");
    sl_topo_free(&t);
}

/* ---- the real machine ------------------------------------------------------------------------ */

/* Writes the cpus of set as a list ("0-3,6"), computed without hwloc. */
static void cpuset_list(const cpu_set_t *set, char *out, size_t len)
{
    size_t o = 0;
    out[0] = '\0';
    for (int c = 0; c < CPU_SETSIZE; c++) {
        if (!CPU_ISSET(c, set))
            continue;
        int e = c;
        while (e + 1 < CPU_SETSIZE && CPU_ISSET(e + 1, set))
            e++;
        if (e == c)
            o += (size_t)snprintf(out + o, len - o, "%s%d", o ? "," : "", c);
        else
            o += (size_t)snprintf(out + o, len - o, "%s%d-%d", o ? "," : "", c, e);
        c = e;
    }
}

/* NUMA nodes with a nodeN directory in sysfs. */
static int sysfs_numa_nodes(void)
{
    DIR *d = opendir("/sys/devices/system/node");
    int n = 0;
    if (!d)
        return 1;
    struct dirent *e;
    while ((e = readdir(d)) != NULL)
        n += strncmp(e->d_name, "node", 4) == 0 && e->d_name[4] >= '0' && e->d_name[4] <= '9';
    closedir(d);
    return n ? n : 1;
}

static void affinity(cpu_set_t *set)
{
    CPU_ZERO(set);
    cr_assert_eq(sched_getaffinity(0, sizeof *set, set), 0);
}

Test(placement, bind_thread_on_this_machine)
{
    cpu_set_t start, now;
    char want[512], got[512];
    affinity(&start);
    cpuset_list(&start, want, sizeof want);
    sl_topo *t = load(NULL);
    cr_assert_eq(sl_topo_is_this_machine(t), 1);
    cr_assert_eq(sl_topo_numa_count(t), sysfs_numa_nodes());

    /* One cpu: the last one this process may use. */
    int last = -1;
    for (int c = 0; c < CPU_SETSIZE; c++)
        if (CPU_ISSET(c, &start))
            last = c;
    char one[16];
    snprintf(one, sizeof one, "%d", last);
    sl_devloc cpu;
    sl_devloc_init(&cpu, SL_DEVLOC_CPU, "PoCL / pthread");
    sl_place_override o = ovr("pthread", -1, one);
    sl_placement p = place(t, &cpu, &o);
    cr_assert_str_eq(p.cpus, one);
    int rc = sl_placement_bind_thread(t, &p, msg, sizeof msg);
    cr_assert_eq(rc, 0, "%s: %s", sl_strerror(rc), msg);
    affinity(&now);
    cr_assert_eq(CPU_COUNT(&now), 1, "affinity has %d cpus", CPU_COUNT(&now));
    cr_assert(CPU_ISSET(last, &now), "cpu %d not in the affinity", last);

    /* The whole machine: the affinity the process started with. */
    p = place(t, &cpu, NULL);
    cr_assert_eq(p.source, SL_PLACE_MACHINE);
    cr_assert_str_eq(p.cpus, want, "hwloc's cpuset %s, sched_getaffinity %s", p.cpus, want);
    rc = sl_placement_bind_thread(t, &p, msg, sizeof msg);
    cr_assert_eq(rc, 0, "%s: %s", sl_strerror(rc), msg);
    affinity(&now);
    cpuset_list(&now, got, sizeof got);
    cr_assert_str_eq(got, want);
    if (sysfs_numa_nodes() == 1) {
        cr_assert_str_eq(msg, "one NUMA node: memory binding not needed");
    } else {
        /* Several nodes: bind to node 0 and read the policy back from the kernel. */
        o = ovr("pthread", 0, "");
        p = place(t, &cpu, &o);
        rc = sl_placement_bind_thread(t, &p, msg, sizeof msg);
        cr_assert_eq(rc, 0, "%s: %s", sl_strerror(rc), msg);
        int mode = -1;
        unsigned long mask[16] = {0};
        cr_assert_eq(syscall(SYS_get_mempolicy, &mode, mask, sizeof mask * 8, NULL, 0), 0);
        cr_assert_eq(mode, MPOL_BIND, "mode %d", mode);
        char nodes[512];
        size_t w = 0;
        nodes[0] = '\0';
        for (int b = 0; b < (int)(sizeof mask * 8); b++)
            if (mask[b / 64] >> (b % 64) & 1)
                w += (size_t)snprintf(nodes + w, sizeof nodes - w, "%s%d", w ? "," : "", b);
        cr_assert_str_eq(nodes, p.nodes);
    }
    sl_topo_free(&t);
}

/* Every PCI device sysfs lists is found in this machine's topology, with the cpus sysfs
 * gives as its local_cpulist (limited to the cpus this process may use). */
Test(placement, pci_devices_of_this_machine)
{
    DIR *d = opendir("/sys/bus/pci/devices");
    if (!d)
        cr_skip_test("no /sys/bus/pci/devices");
    sl_topo *t = load(NULL);
    cpu_set_t allowed;
    affinity(&allowed);
    struct dirent *e;
    int seen = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char path[512], list[512] = "", cls[32] = "";
        snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/class", e->d_name);
        FILE *f = fopen(path, "r");
        if (f) {
            if (!fgets(cls, sizeof cls, f))
                cls[0] = '\0';
            fclose(f);
        }
        if (strncmp(cls, "0x0604", 6) == 0 || strncmp(cls, "0x0609", 6) == 0)
            continue; /* PCI-to-PCI bridges are hwloc Bridge objects, not devices */
        sl_devloc l;
        sl_devloc_init(&l, SL_DEVLOC_ACCEL, "sysfs");
        cr_assert_eq(sl_devloc_set_pci(&l, e->d_name), 0, "%s", e->d_name);
        snprintf(path, sizeof path, "/sys/bus/pci/devices/%s/local_cpulist", e->d_name);
        f = fopen(path, "r");
        if (!f || !fgets(list, sizeof list, f)) {
            if (f)
                fclose(f);
            continue;
        }
        fclose(f);
        list[strcspn(list, "\n")] = '\0';
        /* The list as a cpu_set_t, cut to the allowed cpus, printed back. */
        cpu_set_t local;
        CPU_ZERO(&local);
        for (char *q = list; *q;) {
            long a = strtol(q, &q, 10), b = a;
            if (*q == '-')
                b = strtol(q + 1, &q, 10);
            for (long c = a; c <= b && c < CPU_SETSIZE; c++)
                CPU_SET((int)c, &local);
            if (*q == ',')
                q++;
        }
        CPU_AND(&local, &local, &allowed);
        char want[512];
        cpuset_list(&local, want, sizeof want);
        sl_placement p = place(t, &l, NULL);
        cr_assert_eq(p.source, SL_PLACE_PCI, "%s: %s", e->d_name, p.how);
        cr_assert_str_eq(p.cpus, want, "%s: sysfs local_cpulist %s", e->d_name, list);
        seen++;
    }
    closedir(d);
    sl_topo_free(&t);
    if (!seen)
        cr_skip_test("no PCI device in sysfs");
}

Test(placement, bind_refuses_other_topologies)
{
    sl_topo *t = load(XML2);
    sl_devloc g = gpu_at("0000:81:00.0");
    sl_placement p = place(t, &g, NULL);
    cpu_set_t before, after;
    affinity(&before);
    int rc = sl_placement_bind_thread(t, &p, msg, sizeof msg);
    cr_assert_eq(rc, SL_EUNSUPPORTED, "rc %d", rc);
    cr_assert_str_eq(msg, "cannot bind to cpus 4-7: the topology is not this machine's (XML or "
                          "synthetic)");
    affinity(&after);
    cr_assert(CPU_EQUAL(&before, &after));
    sl_topo_free(&t);

    /* A placement that does not parse is refused on the real machine too. */
    t = load(NULL);
    memset(&p, 0, sizeof p);
    snprintf(p.cpus, sizeof p.cpus, "x");
    snprintf(p.nodes, sizeof p.nodes, "0");
    rc = sl_placement_bind_thread(t, &p, msg, sizeof msg);
    cr_assert_eq(rc, SL_EINVAL, "rc %d", rc);
    sl_topo_free(&t);
}

Test(placement, opencl_device_on_this_machine)
{
    unsetenv("SLUICE_DEVICE");
    sl_device *d = NULL;
    int rc = sl_device_open(NULL, &d, msg, sizeof msg);
    cr_assert_eq(rc, 0, "%s", msg);
    const sl_device_info *in = sl_device_get_info(d);
    sl_devloc l;
    cr_assert_eq(sl_devloc_from_cl(sl_device_id(d), &l, msg, sizeof msg), 0, "%s", msg);
    char name[300];
    snprintf(name, sizeof name, "%s / %s", in->platform, in->name);
    cr_assert_str_eq(l.name, name);
    enum sl_devloc_kind kind = (in->type & CL_DEVICE_TYPE_GPU)           ? SL_DEVLOC_GPU
                               : (in->type & CL_DEVICE_TYPE_ACCELERATOR) ? SL_DEVLOC_ACCEL
                               : (in->type & CL_DEVICE_TYPE_CPU)         ? SL_DEVLOC_CPU
                                                                         : SL_DEVLOC_OTHER;
    cr_assert_eq(l.kind, kind);
    /* The indices name this device. */
    cl_platform_id plats[16];
    cl_uint np = 0;
    cr_assert_eq(clGetPlatformIDs(16, plats, &np), CL_SUCCESS);
    cr_assert(l.cl_platform >= 0 && (cl_uint)l.cl_platform < np, "platform %d", l.cl_platform);
    cl_device_id devs[64];
    cl_uint nd = 0;
    cr_assert_eq(clGetDeviceIDs(plats[l.cl_platform], CL_DEVICE_TYPE_ALL, 64, devs, &nd),
                 CL_SUCCESS);
    cr_assert(l.cl_device >= 0 && (cl_uint)l.cl_device < nd, "device %d", l.cl_device);
    cr_assert_eq(devs[l.cl_device], sl_device_id(d));

    sl_topo *t = load(NULL);
    sl_placement p;
    rc = sl_place_device(t, sl_device_id(d), NULL, 0, &p, msg, sizeof msg);
    cr_assert_eq(rc, 0, "%s", msg);
    if (kind == SL_DEVLOC_CPU) {
        cpu_set_t start;
        char want[512];
        affinity(&start);
        cpuset_list(&start, want, sizeof want);
        cr_assert_eq(p.source, SL_PLACE_MACHINE, "%s", p.how);
        cr_assert_str_eq(p.how, "CPU device: whole machine");
        cr_assert_str_eq(p.cpus, want);
    }
    /* An override reaches the device through its name. */
    sl_place_override ovs[2] = {ovr("no such device", 0, ""), ovr(in->name, 0, "")};
    rc = sl_place_device(t, sl_device_id(d), ovs, 2, &p, msg, sizeof msg);
    cr_assert_eq(rc, 0, "%s", msg);
    cr_assert_eq(p.source, SL_PLACE_OVERRIDE, "%s", p.how);
    cr_assert_eq(p.numa, 0);
    sl_topo_free(&t);
    sl_device_close(&d);
}

Test(placement, report_lists_every_device)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    cr_assert_not_null(f);
    int rc = sl_placement_report(f, NULL, 0, msg, sizeof msg);
    fclose(f);
    cr_assert_eq(rc, 0, "%s: %s", sl_strerror(rc), msg);
    const char *head = "placement (hwloc " HWLOC_VERSION "): "; /* the Debian package pins both */
    cr_assert(strncmp(buf, head, strlen(head)) == 0, "%s", buf);
    int ndev = sl_device_count("");
    cr_assert(ndev >= 1);
    char tag[32];
    snprintf(tag, sizeof tag, "\n[%d] ", ndev - 1);
    cr_assert(strstr(buf, tag), "no line %s in:\n%s", tag + 1, buf);
    snprintf(tag, sizeof tag, "\n[%d] ", ndev);
    cr_assert(!strstr(buf, tag), "too many devices in:\n%s", buf);
    cr_assert(strstr(buf, "NUMA node"), "%s", buf);
    free(buf);

    /* A bad override is reported on the device's line; the listing goes on. */
    sl_place_override bad = ovr("", 99, "");
    buf = NULL;
    f = open_memstream(&buf, &len);
    rc = sl_placement_report(f, &bad, 1, msg, sizeof msg);
    fclose(f);
    cr_assert_eq(rc, 0, "%s", msg);
    cr_assert(strstr(buf, "placement error: placement for \"\""), "%s", buf);
    cr_assert(strstr(buf, "NUMA node 99 does not exist"), "%s", buf);
    free(buf);
}
