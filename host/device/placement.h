/* Device placement from hwloc: on which cores a device's host threads (ingest, batcher,
 * dispatcher) run and on which NUMA node its pinned buffers live.
 *
 * The machine's topology is read once (sl_topo_load). Each OpenCL device is described by a
 * locator (sl_devloc: its kind, name, PCI bus id when the driver reports one, and the platform
 * and device indices hwloc's OpenCL objects are named by), and sl_topo_place turns the locator
 * into a placement, trying in order:
 *
 *   1. a config override (sl_place_override, the topology file's `placement:` list);
 *   2. hwloc's OpenCL object "opencl<P>d<D>" for the device (GPUs and accelerators whose
 *      driver tells hwloc where they sit), and the cores and nodes of its first non-I/O
 *      ancestor;
 *   3. the device's PCI bus id looked up among hwloc's PCI objects, same locality rule;
 *   4. the whole machine (CPU devices such as PoCL's, and devices hwloc knows nothing about).
 *
 * The placement says which of these answered, in words. sl_placement_bind_thread then binds
 * the calling thread's CPU affinity and memory policy to it, so that memory the thread touches
 * first afterwards (pinned OpenCL buffers filled at engine creation) lands on that node.
 * docs/placement.md has the details and the limits.
 *
 * Threads: a topology is loaded and freed by one thread; once loaded, any number of threads
 * may call sl_topo_place and sl_placement_bind_thread on it at the same time (hwloc reads the
 * topology only). CPU and NUMA indices: `cpus` lists are OS (physical) PU numbers, as Linux,
 * taskset and sched_getaffinity number them; `numa` is hwloc's logical NUMA node index;
 * `nodes` lists are OS NUMA node numbers (as numactl numbers them). */
#ifndef SL_PLACEMENT_H
#define SL_PLACEMENT_H

#include <stddef.h>
#include <stdio.h>

#include "topology.h"

#include <CL/cl.h>

/* ---- topology ---------------------------------------------------------------------------- */

typedef struct sl_topo sl_topo;

/* Loads a topology into *out. desc NULL: this machine, with PCI and OS devices (hwloc's PCI
 * and OpenCL components run; the OpenCL one opens the OpenCL platforms). desc starting with
 * '<': an hwloc XML document in memory. desc ending in ".xml": an hwloc XML file. Anything
 * else: an hwloc synthetic description such as "pack:2 numa:1 core:4 pu:1". XML and synthetic
 * topologies keep their I/O objects and can be placed on, but not bound to.
 * Returns 0 with *out set; SL_EIO (file unreadable), SL_EINVAL (description or XML refused by
 * hwloc), SL_ENOMEM; msg says why. On error *out is NULL. */
int sl_topo_load(sl_topo **out, const char *desc, char *msg, size_t msglen);

/* Frees the topology and sets *tp to NULL. NULL-safe. */
void sl_topo_free(sl_topo **tp);

/* Number of NUMA nodes (at least 1). */
int sl_topo_numa_count(const sl_topo *t);

/* 1 when the topology is this machine's (binding is possible), 0 for XML or synthetic. */
int sl_topo_is_this_machine(const sl_topo *t);

/* ---- device locators --------------------------------------------------------------------- */

enum sl_devloc_kind {
    SL_DEVLOC_CPU = 0,
    SL_DEVLOC_GPU = 1,
    SL_DEVLOC_ACCEL = 2,
    SL_DEVLOC_OTHER = 3
};

/* What placement needs to know about one device. Filled from OpenCL by sl_devloc_from_cl, or
 * by hand (tests, tools): sl_devloc_init, then sl_devloc_set_pci and the cl_* indices. */
typedef struct sl_devloc {
    enum sl_devloc_kind kind;
    char name[280]; /* "platform / device", as --device and override matching read it */
    int has_pci;    /* the pci_* fields hold the device's PCI address */
    unsigned pci_domain, pci_bus, pci_dev, pci_func;
    int cl_platform; /* index of the platform in clGetPlatformIDs' order; -1 unknown */
    int cl_device;   /* index in clGetDeviceIDs(CL_DEVICE_TYPE_ALL) of that platform; -1 */
} sl_devloc;

/* Sets *l to a device of `kind` named `name` (cut to fit; NULL = ""), without PCI address and
 * with unknown OpenCL indices. */
void sl_devloc_init(sl_devloc *l, enum sl_devloc_kind kind, const char *name);

/* Sets the PCI address from "DDDD:BB:DD.F" or "BB:DD.F" (hexadecimal; domain 0 when left
 * out). Returns 0, or SL_EINVAL with *l unchanged. */
int sl_devloc_set_pci(sl_devloc *l, const char *busid);

/* Writes the PCI address as "DDDD:BB:DD.F" into buf ("" without one). Returns buf. */
const char *sl_devloc_pci_str(const sl_devloc *l, char *buf, size_t len);

/* Fills *out from an OpenCL device: kind from CL_DEVICE_TYPE, "platform / device" name, the
 * platform and device indices, and the PCI address from cl_khr_pci_bus_info, NVIDIA's
 * cl_nv_device_attribute_query or AMD's cl_amd_device_attribute_query, whichever the device
 * advertises first (none on PoCL's CPU device). Returns 0, or SL_ECL when the device's type
 * or platform cannot be read (msg names the call). Any thread. */
int sl_devloc_from_cl(cl_device_id dev, sl_devloc *out, char *msg, size_t msglen);

/* ---- overrides ----------------------------------------------------------------------------- */

/* Returns the first of ovs[0..n) whose device is contained in `name`, or NULL. */
const sl_place_override *sl_place_override_find(const sl_place_override *ovs, size_t n,
                                                const char *name);

/* ---- placement ----------------------------------------------------------------------------- */

enum sl_place_source {
    SL_PLACE_OVERRIDE = 0, /* the config's placement entry */
    SL_PLACE_OPENCL = 1,   /* hwloc's OpenCL OS device object */
    SL_PLACE_PCI = 2,      /* the device's PCI bus id found in hwloc's topology */
    SL_PLACE_MACHINE = 3   /* no locality known, or a CPU device: the whole machine */
};

/* "config", "hwloc-opencl", "hwloc-pci", "machine". */
const char *sl_place_source_name(enum sl_place_source s);

#define SL_PLACE_LIST_MAX 512

typedef struct sl_placement {
    int numa;                      /* the one NUMA node (logical index), -1 when several */
    char cpus[SL_PLACE_LIST_MAX];  /* cpuset as an OS-index list: "0-7" */
    char nodes[SL_PLACE_LIST_MAX]; /* nodeset as an OS-index list: "1" or "0-3" */
    unsigned ncpus;                /* PUs in cpus */
    enum sl_place_source source;   /* which rule answered */
    char how[512];                 /* in words: "PCI 0000:81:00.0 in hwloc" */
} sl_placement;

/* Places the device `loc` in topology t, with override `ov` (NULL = none), trying the sources
 * in the order at the top of this file. An override's numa must name an existing NUMA node
 * that has cores (or come with cpus), and its cpus must be PUs of the topology. Returns 0 with
 * *out set; SL_ECONFIG for a bad override (msg names the device, the value and what exists);
 * SL_ENOMEM. On error *out is unchanged. Any thread. */
int sl_topo_place(const sl_topo *t, const sl_devloc *loc, const sl_place_override *ov,
                  sl_placement *out, char *msg, size_t msglen);

/* sl_devloc_from_cl + sl_place_override_find(ovs, nov, name) + sl_topo_place: the usual way
 * to place an opened device. Same returns. */
int sl_place_device(const sl_topo *t, cl_device_id dev, const sl_place_override *ovs, size_t nov,
                    sl_placement *out, char *msg, size_t msglen);

/* Writes "NUMA node 1 (nodeset 1), cpus 4-7 [hwloc-pci: PCI 0000:81:00.0 in hwloc]" into buf
 * ("NUMA nodes 0-1" when numa is -1). Returns buf. */
const char *sl_placement_str(const sl_placement *p, char *buf, size_t len);

/* Binds the calling thread to p: CPU affinity to p->cpus (hwloc_set_cpubind, THREAD) and
 * memory policy to p->nodes (hwloc_set_membind, BIND, THREAD), so that pages this thread
 * touches first from now on come from those nodes. Call it at the start of each of a device's
 * threads, before that thread allocates or fills the device's pinned buffers.
 * When p->nodes covers every NUMA node of the machine (always on a one-node machine) memory
 * is left to the kernel's default local-first policy and msg says so; that is success.
 * Returns 0 (msg "" or a note); SL_EUNSUPPORTED when t is not this machine's topology, or when
 * the OS refuses the CPU binding or (on a machine with several nodes) the memory binding: msg
 * names the call and errno. A failed memory binding leaves the CPU binding in place. SL_EINVAL
 * for a placement whose lists do not parse. Any thread, for itself. */
int sl_placement_bind_thread(const sl_topo *t, const sl_placement *p, char *msg, size_t msglen);

/* The placement part of `sluice devices`: loads this machine's topology, then writes a header
 * ("placement (hwloc 2.9.0): 1 NUMA node, 2 PUs (cpus 0-1)") and, for every OpenCL device in
 * platform order (the numbering of sl_device_list), its NUMA node, cpuset and how that was
 * found, with ovs[0..nov) applied (NULL, 0: none). A device whose override is bad gets the
 * error on its line; the others are still listed. Returns 0; SL_ENODEV when there is no
 * OpenCL platform; the topology's load error (msg says why, and a line says it on out). */
int sl_placement_report(FILE *out, const sl_place_override *ovs, size_t nov, char *msg,
                        size_t msglen);

#endif
