/* Device placement from hwloc (see placement.h for the rules, docs/placement.md for why).
 *
 * A placement is kept as printable lists rather than hwloc bitmaps, so that it is a plain
 * value: copied into engine structs, printed, compared in tests, and parsed back into bitmaps
 * only by sl_placement_bind_thread, once per thread. */
#include "placement.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <CL/cl_ext.h>
#include <hwloc.h>
#include <hwloc/opencl.h>

#include "device.h"
#include "err.h"
#include "log.h"

/* Device info parameters of the vendor extensions that report a PCI address. Defined here
 * because the Khronos headers on a given machine may lack some of them (Debian 12's define
 * the KHR and AMD ones, not NVIDIA's); values from the Khronos registry's cl_ext.h. */
#define SL_CL_DEVICE_PCI_BUS_INFO_KHR 0x410F /* cl_khr_pci_bus_info */
#define SL_CL_DEVICE_PCI_BUS_ID_NV 0x4008    /* cl_nv_device_attribute_query */
#define SL_CL_DEVICE_PCI_SLOT_ID_NV 0x4009
#define SL_CL_DEVICE_PCI_DOMAIN_ID_NV 0x400A
#define SL_CL_DEVICE_TOPOLOGY_AMD 0x4037 /* cl_amd_device_attribute_query */
#define SL_CL_DEVICE_TOPOLOGY_TYPE_PCIE_AMD 1

/* cl_device_pci_bus_info_khr */
struct khr_pci_bus_info {
    cl_uint domain, bus, device, function;
};

/* cl_device_topology_amd: a type word, then (for PCIe) bus, device and function bytes at
 * offsets 21, 22 and 23. */
union amd_topology {
    struct {
        cl_uint type;
        cl_uint data[5];
    } raw;
    struct {
        cl_uint type;
        cl_char unused[17];
        cl_char bus, device, function;
    } pcie;
};

struct sl_topo {
    hwloc_topology_t h;
    int thissystem;
    int nnuma;
};

/* ---- topology ---------------------------------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int sl_topo_load(sl_topo **out, const char *desc, char *msg, size_t msglen)
{
    int rc = 0;
    const char *what = desc ? desc : "this machine";
    sl_set_msg(msg, msglen, "%s", "");
    *out = NULL;
    sl_topo *t = calloc(1, sizeof *t);
    if (!t) {
        sl_set_msg(msg, msglen, "out of memory");
        return SL_ENOMEM;
    }
    if (hwloc_topology_init(&t->h) < 0) {
        free(t);
        sl_set_msg(msg, msglen, "hwloc_topology_init failed: %s", strerror(errno));
        return SL_ENOMEM;
    }
    /* Keep PCI bridges, PCI devices and OS devices (OpenCL ones included): placement looks
     * devices up among them. Without this hwloc drops every I/O object, also from XML. */
    hwloc_topology_set_io_types_filter(t->h, HWLOC_TYPE_FILTER_KEEP_ALL);
    if (!desc) {
        /* This machine. The Linux component reads PCI devices from sysfs itself; the
         * libpciaccess-based "pci" plugin would add nothing here but a leak that LeakSanitizer
         * reports once the plugin is unloaded, and "gl" probes X displays. The "opencl"
         * plugin stays: it makes the OpenCL objects. Failures only mean the plugin is absent. */
        hwloc_topology_set_components(t->h, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "pci");
        hwloc_topology_set_components(t->h, HWLOC_TOPOLOGY_COMPONENTS_FLAG_BLACKLIST, "gl");
    } else if (desc[0] == '<') {
        size_t n = strlen(desc);
        if (n >= INT_MAX || hwloc_topology_set_xmlbuffer(t->h, desc, (int)n + 1) < 0) {
            sl_set_msg(msg, msglen, "hwloc refused the XML topology: %s", strerror(errno));
            rc = SL_EINVAL;
            goto fail;
        }
        what = "the XML topology";
    } else if (ends_with(desc, ".xml")) {
        FILE *f = fopen(desc, "rb");
        if (!f) {
            sl_set_msg(msg, msglen, "%s: cannot open: %s", desc, strerror(errno));
            rc = SL_EIO;
            goto fail;
        }
        fclose(f);
        if (hwloc_topology_set_xml(t->h, desc) < 0) {
            sl_set_msg(msg, msglen, "%s: hwloc refused the XML topology: %s", desc,
                       strerror(errno));
            rc = SL_EINVAL;
            goto fail;
        }
    } else if (hwloc_topology_set_synthetic(t->h, desc) < 0) {
        sl_set_msg(msg, msglen,
                   "hwloc refused the synthetic topology \"%s\" (expected a description such as "
                   "\"pack:2 numa:1 core:4 pu:1\", or an XML file name ending in .xml)",
                   desc);
        rc = SL_EINVAL;
        goto fail;
    }
    if (hwloc_topology_load(t->h) < 0) {
        sl_set_msg(msg, msglen, "hwloc could not load %s: %s", what, strerror(errno));
        rc = SL_EINVAL;
        goto fail;
    }
    t->thissystem = hwloc_topology_is_thissystem(t->h);
    t->nnuma = hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_NUMANODE);
    if (t->nnuma < 1)
        t->nnuma = 1; /* hwloc 2 always has one; stay safe for odd XML */
    *out = t;
    return 0;
fail:
    hwloc_topology_destroy(t->h);
    free(t);
    return rc;
}

void sl_topo_free(sl_topo **tp)
{
    if (!tp || !*tp)
        return;
    hwloc_topology_destroy((*tp)->h);
    free(*tp);
    *tp = NULL;
}

int sl_topo_numa_count(const sl_topo *t)
{
    return t->nnuma;
}

int sl_topo_is_this_machine(const sl_topo *t)
{
    return t->thissystem;
}

/* ---- device locators --------------------------------------------------------------------- */

void sl_devloc_init(sl_devloc *l, enum sl_devloc_kind kind, const char *name)
{
    memset(l, 0, sizeof *l);
    l->kind = kind;
    snprintf(l->name, sizeof l->name, "%s", name ? name : "");
    l->cl_platform = -1;
    l->cl_device = -1;
}

/* Reads 1..maxdigits hex digits from *s into *v and advances *s. Returns 0 or -1. */
static int hex_field(const char **s, int maxdigits, unsigned *v)
{
    unsigned x = 0;
    int n = 0;
    while (n < maxdigits && isxdigit((unsigned char)**s)) {
        char c = (char)tolower((unsigned char)**s);
        x = x * 16 + (unsigned)(c <= '9' ? c - '0' : c - 'a' + 10);
        (*s)++;
        n++;
    }
    if (n == 0)
        return -1;
    *v = x;
    return 0;
}

int sl_devloc_set_pci(sl_devloc *l, const char *busid)
{
    unsigned f[4] = {0, 0, 0, 0}; /* domain, bus, device, function */
    if (!busid)
        return SL_EINVAL;
    /* Count the colons to tell "DDDD:BB:DD.F" from "BB:DD.F". */
    int colons = 0;
    for (const char *p = busid; *p; p++)
        colons += *p == ':';
    if (colons != 1 && colons != 2)
        return SL_EINVAL;
    const char *s = busid;
    if (colons == 2 && (hex_field(&s, 8, &f[0]) < 0 || *s++ != ':'))
        return SL_EINVAL;
    if (hex_field(&s, 2, &f[1]) < 0 || *s++ != ':' || hex_field(&s, 2, &f[2]) < 0 || *s++ != '.' ||
        hex_field(&s, 1, &f[3]) < 0 || *s != '\0')
        return SL_EINVAL;
    if (f[2] > 0x1f || f[3] > 7 || f[0] > 0xffff)
        return SL_EINVAL;
    l->has_pci = 1;
    l->pci_domain = f[0];
    l->pci_bus = f[1];
    l->pci_dev = f[2];
    l->pci_func = f[3];
    return 0;
}

const char *sl_devloc_pci_str(const sl_devloc *l, char *buf, size_t len)
{
    if (len == 0)
        return buf;
    if (!l->has_pci)
        buf[0] = '\0';
    else
        snprintf(buf, len, "%04x:%02x:%02x.%x", l->pci_domain, l->pci_bus, l->pci_dev, l->pci_func);
    return buf;
}

/* Fills the PCI address of d from whichever vendor extension it advertises. */
static void pci_from_cl(cl_device_id d, sl_devloc *l)
{
    if (sl_cl_has_extension(d, "cl_khr_pci_bus_info")) {
        struct khr_pci_bus_info bi;
        if (clGetDeviceInfo(d, SL_CL_DEVICE_PCI_BUS_INFO_KHR, sizeof bi, &bi, NULL) == CL_SUCCESS) {
            l->has_pci = 1;
            l->pci_domain = bi.domain;
            l->pci_bus = bi.bus;
            l->pci_dev = bi.device;
            l->pci_func = bi.function;
            return;
        }
    }
    if (sl_cl_has_extension(d, "cl_nv_device_attribute_query")) {
        cl_uint bus, slot, domain = 0;
        if (clGetDeviceInfo(d, SL_CL_DEVICE_PCI_BUS_ID_NV, sizeof bus, &bus, NULL) == CL_SUCCESS &&
            clGetDeviceInfo(d, SL_CL_DEVICE_PCI_SLOT_ID_NV, sizeof slot, &slot, NULL) ==
                CL_SUCCESS) {
            /* The domain query exists from CUDA 10.2 on; older drivers: domain 0. */
            if (clGetDeviceInfo(d, SL_CL_DEVICE_PCI_DOMAIN_ID_NV, sizeof domain, &domain, NULL) !=
                CL_SUCCESS)
                domain = 0;
            l->has_pci = 1;
            l->pci_domain = domain;
            l->pci_bus = bus & 0xff;
            l->pci_dev = slot >> 3; /* the slot id packs device and function as in devfn */
            l->pci_func = slot & 7;
            return;
        }
    }
    if (sl_cl_has_extension(d, "cl_amd_device_attribute_query")) {
        union amd_topology at;
        memset(&at, 0, sizeof at);
        if (clGetDeviceInfo(d, SL_CL_DEVICE_TOPOLOGY_AMD, sizeof at, &at, NULL) == CL_SUCCESS &&
            at.raw.type == SL_CL_DEVICE_TOPOLOGY_TYPE_PCIE_AMD) {
            l->has_pci = 1;
            l->pci_domain = 0; /* AMD reports no domain */
            l->pci_bus = (unsigned char)at.pcie.bus;
            l->pci_dev = (unsigned char)at.pcie.device;
            l->pci_func = (unsigned char)at.pcie.function;
        }
    }
}

int sl_devloc_from_cl(cl_device_id dev, sl_devloc *out, char *msg, size_t msglen)
{
    cl_device_type type = 0;
    cl_platform_id plat = NULL;
    cl_int st = clGetDeviceInfo(dev, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    if (st != CL_SUCCESS) {
        sl_set_msg(msg, msglen, "clGetDeviceInfo(CL_DEVICE_TYPE) failed (%d)", (int)st);
        return SL_ECL;
    }
    st = clGetDeviceInfo(dev, CL_DEVICE_PLATFORM, sizeof plat, &plat, NULL);
    if (st != CL_SUCCESS) {
        sl_set_msg(msg, msglen, "clGetDeviceInfo(CL_DEVICE_PLATFORM) failed (%d)", (int)st);
        return SL_ECL;
    }
    /* The order matches hwloc's OpenCL component, which calls any device with the GPU bit a
     * GPU. */
    enum sl_devloc_kind kind = (type & CL_DEVICE_TYPE_GPU)           ? SL_DEVLOC_GPU
                               : (type & CL_DEVICE_TYPE_ACCELERATOR) ? SL_DEVLOC_ACCEL
                               : (type & CL_DEVICE_TYPE_CPU)         ? SL_DEVLOC_CPU
                                                                     : SL_DEVLOC_OTHER;
    char pname[128] = "?", dname[128] = "?";
    if (clGetPlatformInfo(plat, CL_PLATFORM_NAME, sizeof pname, pname, NULL) != CL_SUCCESS)
        snprintf(pname, sizeof pname, "?");
    if (clGetDeviceInfo(dev, CL_DEVICE_NAME, sizeof dname, dname, NULL) != CL_SUCCESS)
        snprintf(dname, sizeof dname, "?");
    pname[sizeof pname - 1] = dname[sizeof dname - 1] = '\0';
    sl_devloc l;
    char full[sizeof l.name];
    snprintf(full, sizeof full, "%s / %s", pname, dname);
    sl_devloc_init(&l, kind, full);

    /* The indices hwloc names its objects by: opencl<platform>d<device>, counting every
     * device of the platform (CPU devices too, though hwloc makes no object for them). */
    cl_platform_id plats[16];
    cl_uint np = 0;
    if (clGetPlatformIDs(16, plats, &np) == CL_SUCCESS) {
        for (cl_uint i = 0; i < np && i < 16; i++) {
            if (plats[i] != plat)
                continue;
            cl_device_id devs[64];
            cl_uint nd = 0;
            if (clGetDeviceIDs(plat, CL_DEVICE_TYPE_ALL, 64, devs, &nd) != CL_SUCCESS)
                break;
            for (cl_uint j = 0; j < nd && j < 64; j++) {
                if (devs[j] == dev) {
                    l.cl_platform = (int)i;
                    l.cl_device = (int)j;
                }
            }
            break;
        }
    }
    pci_from_cl(dev, &l);
    *out = l;
    return 0;
}

/* ---- overrides ----------------------------------------------------------------------------- */

const sl_place_override *sl_place_override_find(const sl_place_override *ovs, size_t n,
                                                const char *name)
{
    for (size_t i = 0; ovs && i < n; i++)
        if (sl_device_name_matches(name, ovs[i].device))
            return &ovs[i];
    return NULL;
}

/* ---- placement ----------------------------------------------------------------------------- */

const char *sl_place_source_name(enum sl_place_source s)
{
    switch (s) {
    case SL_PLACE_OVERRIDE:
        return "config";
    case SL_PLACE_OPENCL:
        return "hwloc-opencl";
    case SL_PLACE_PCI:
        return "hwloc-pci";
    case SL_PLACE_MACHINE:
        return "machine";
    }
    return "unknown";
}

/* Prints set as a list into out (SL_PLACE_LIST_MAX bytes). Returns 0 or SL_ERANGE. */
static int list_str(hwloc_const_bitmap_t set, char *out)
{
    int n = hwloc_bitmap_list_snprintf(out, SL_PLACE_LIST_MAX, set);
    return n < 0 || n >= SL_PLACE_LIST_MAX ? SL_ERANGE : 0;
}

/* Fills the locality fields of p from a cpuset and a nodeset. Returns 0 or SL_ERANGE. */
static int fill_sets(const sl_topo *t, hwloc_const_cpuset_t cpus, hwloc_const_nodeset_t nodes,
                     sl_placement *p, char *msg, size_t msglen)
{
    if (list_str(cpus, p->cpus) < 0 || list_str(nodes, p->nodes) < 0) {
        sl_set_msg(msg, msglen, "cpuset or nodeset too long to print (more than %d bytes)",
                   SL_PLACE_LIST_MAX - 1);
        return SL_ERANGE;
    }
    int w = hwloc_bitmap_weight(cpus);
    p->ncpus = w > 0 ? (unsigned)w : 0;
    p->numa = -1;
    if (hwloc_bitmap_weight(nodes) == 1) {
        hwloc_obj_t node =
            hwloc_get_numanode_obj_by_os_index(t->h, (unsigned)hwloc_bitmap_first(nodes));
        if (node)
            p->numa = (int)node->logical_index;
    }
    return 0;
}

/* Fills p with the locality of obj's first non-I/O ancestor (obj itself when it is one). */
static int fill_obj(const sl_topo *t, hwloc_obj_t obj, sl_placement *p, char *msg, size_t msglen)
{
    hwloc_obj_t anc = hwloc_get_non_io_ancestor_obj(t->h, obj);
    if (!anc || !anc->cpuset || !anc->nodeset)
        anc = hwloc_get_root_obj(t->h);
    return fill_sets(t, anc->cpuset, anc->nodeset, p, msg, msglen);
}

/* An override that does not fit this machine: msg is "placement for "DEVICE" (device NAME): "
 * and what fmt says. Returns SL_ECONFIG. */
static int bad_override(char *msg, size_t msglen, const sl_place_override *ov, const sl_devloc *loc,
                        const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static int bad_override(char *msg, size_t msglen, const sl_place_override *ov, const sl_devloc *loc,
                        const char *fmt, ...)
{
    if (!msg || msglen == 0)
        return SL_ECONFIG;
    int n = snprintf(msg, msglen, "placement for \"%s\" (device %s): ", ov->device, loc->name);
    if (n >= 0 && (size_t)n < msglen) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg + n, msglen - (size_t)n, fmt, ap);
        va_end(ap);
    }
    return SL_ECONFIG;
}

static int place_override(const sl_topo *t, const sl_devloc *loc, const sl_place_override *ov,
                          sl_placement *p, char *msg, size_t msglen)
{
    int rc = 0;
    hwloc_bitmap_t cpus = hwloc_bitmap_alloc(), nodes = hwloc_bitmap_alloc();
    char have[SL_PLACE_LIST_MAX];
    if (!cpus || !nodes) {
        rc = SL_ENOMEM;
        sl_set_msg(msg, msglen, "out of memory");
        goto out;
    }
    if (ov->numa >= 0) {
        hwloc_obj_t node = ov->numa < t->nnuma
                               ? hwloc_get_obj_by_type(t->h, HWLOC_OBJ_NUMANODE, (unsigned)ov->numa)
                               : NULL;
        if (!node) {
            rc = bad_override(msg, msglen, ov, loc,
                              "NUMA node %d does not exist; this machine has %d NUMA node%s "
                              "(0..%d)",
                              ov->numa, t->nnuma, t->nnuma == 1 ? "" : "s", t->nnuma - 1);
            goto out;
        }
        hwloc_bitmap_copy(nodes, node->nodeset);
        hwloc_bitmap_copy(cpus, node->cpuset);
        if (!ov->cpus[0] && hwloc_bitmap_iszero(cpus)) {
            rc = bad_override(msg, msglen, ov, loc,
                              "NUMA node %d has no cpus (a memory-only node); give cpus too",
                              ov->numa);
            goto out;
        }
    }
    if (ov->cpus[0]) {
        hwloc_const_cpuset_t all = hwloc_topology_get_topology_cpuset(t->h);
        if (hwloc_bitmap_list_sscanf(cpus, ov->cpus) < 0 || hwloc_bitmap_iszero(cpus)) {
            rc = bad_override(msg, msglen, ov, loc,
                              "cpus \"%s\" is not a cpu list such as \"0-3,8\"", ov->cpus);
            goto out;
        }
        if (!hwloc_bitmap_isincluded(cpus, all)) {
            list_str(all, have);
            rc = bad_override(msg, msglen, ov, loc,
                              "cpus \"%s\" names PUs this machine lacks (it has cpus %s)", ov->cpus,
                              have);
            goto out;
        }
        if (ov->numa < 0)
            hwloc_cpuset_to_nodeset(t->h, cpus, nodes);
    }
    if ((rc = fill_sets(t, cpus, nodes, p, msg, msglen)) < 0)
        goto out;
    if (ov->numa >= 0 && ov->cpus[0])
        snprintf(p->how, sizeof p->how, "config override for \"%s\": numa %d, cpus %s", ov->device,
                 ov->numa, ov->cpus);
    else if (ov->numa >= 0)
        snprintf(p->how, sizeof p->how, "config override for \"%s\": numa %d", ov->device,
                 ov->numa);
    else
        snprintf(p->how, sizeof p->how, "config override for \"%s\": cpus %s", ov->device,
                 ov->cpus);
    p->source = SL_PLACE_OVERRIDE;
out:
    hwloc_bitmap_free(cpus);
    hwloc_bitmap_free(nodes);
    return rc;
}

/* 1 when obj is a PCI device at loc's address. */
static int pci_matches(hwloc_obj_t obj, const sl_devloc *loc)
{
    return obj->type == HWLOC_OBJ_PCI_DEVICE && obj->attr->pcidev.domain == loc->pci_domain &&
           obj->attr->pcidev.bus == loc->pci_bus && obj->attr->pcidev.dev == loc->pci_dev &&
           obj->attr->pcidev.func == loc->pci_func;
}

int sl_topo_place(const sl_topo *t, const sl_devloc *loc, const sl_place_override *ov,
                  sl_placement *out, char *msg, size_t msglen)
{
    sl_placement p;
    char pci[32], note[160] = "";
    int rc;
    memset(&p, 0, sizeof p);
    sl_set_msg(msg, msglen, "%s", "");
    sl_devloc_pci_str(loc, pci, sizeof pci);

    if (ov && (ov->numa >= 0 || ov->cpus[0])) {
        if ((rc = place_override(t, loc, ov, &p, msg, msglen)) < 0)
            return rc;
        *out = p;
        return 0;
    }

    /* hwloc makes no OpenCL object for CPU devices, so one found at a CPU device's indices
     * belongs to another device (a topology read from elsewhere): not looked up. */
    if (loc->kind != SL_DEVLOC_CPU && loc->cl_platform >= 0 && loc->cl_device >= 0) {
        hwloc_obj_t os = hwloc_opencl_get_device_osdev_by_index(t->h, (unsigned)loc->cl_platform,
                                                                (unsigned)loc->cl_device);
        hwloc_obj_t parent = os ? os->parent : NULL;
        const char *ostype = os ? hwloc_obj_get_info_by_name(os, "OpenCLDeviceType") : NULL;
        if (os && ostype &&
            ((strcmp(ostype, "GPU") == 0 && loc->kind != SL_DEVLOC_GPU) ||
             (strcmp(ostype, "Accelerator") == 0 && loc->kind != SL_DEVLOC_ACCEL))) {
            snprintf(note, sizeof note, " (hwloc's %s is of type %s: not used)", os->name, ostype);
        } else if (os && loc->has_pci && parent && parent->type == HWLOC_OBJ_PCI_DEVICE &&
                   !pci_matches(parent, loc)) {
            /* The indices point at another device than the driver's PCI address: trust the
             * address (the topology may come from another run or machine). */
            snprintf(note, sizeof note, " (hwloc's %s is at PCI %04x:%02x:%02x.%x: not used)",
                     os->name, parent->attr->pcidev.domain, parent->attr->pcidev.bus,
                     parent->attr->pcidev.dev, parent->attr->pcidev.func);
        } else if (os) {
            if ((rc = fill_obj(t, os, &p, msg, msglen)) < 0)
                return rc;
            p.source = SL_PLACE_OPENCL;
            if (parent && parent->type == HWLOC_OBJ_PCI_DEVICE)
                snprintf(p.how, sizeof p.how, "hwloc OpenCL object %s at PCI %04x:%02x:%02x.%x",
                         os->name, parent->attr->pcidev.domain, parent->attr->pcidev.bus,
                         parent->attr->pcidev.dev, parent->attr->pcidev.func);
            else
                snprintf(p.how, sizeof p.how, "hwloc OpenCL object %s", os->name);
            *out = p;
            return 0;
        }
    }

    if (loc->has_pci) {
        hwloc_obj_t dev = hwloc_get_pcidev_by_busid(t->h, loc->pci_domain, loc->pci_bus,
                                                    loc->pci_dev, loc->pci_func);
        if (dev) {
            if ((rc = fill_obj(t, dev, &p, msg, msglen)) < 0)
                return rc;
            p.source = SL_PLACE_PCI;
            snprintf(p.how, sizeof p.how, "PCI %s in hwloc%s", pci, note);
            *out = p;
            return 0;
        }
    }

    if ((rc = fill_sets(t, hwloc_topology_get_topology_cpuset(t->h),
                        hwloc_topology_get_topology_nodeset(t->h), &p, msg, msglen)) < 0)
        return rc;
    p.source = SL_PLACE_MACHINE;
    if (loc->has_pci)
        snprintf(p.how, sizeof p.how, "PCI %s not in hwloc's topology: whole machine%s", pci, note);
    else if (loc->kind == SL_DEVLOC_CPU)
        snprintf(p.how, sizeof p.how, "CPU device: whole machine");
    else
        snprintf(p.how, sizeof p.how,
                 "no hwloc OpenCL object and no PCI bus id for this device: whole machine%s", note);
    *out = p;
    return 0;
}

int sl_place_device(const sl_topo *t, cl_device_id dev, const sl_place_override *ovs, size_t nov,
                    sl_placement *out, char *msg, size_t msglen)
{
    sl_devloc loc;
    int rc = sl_devloc_from_cl(dev, &loc, msg, msglen);
    if (rc < 0)
        return rc;
    return sl_topo_place(t, &loc, sl_place_override_find(ovs, nov, loc.name), out, msg, msglen);
}

const char *sl_placement_str(const sl_placement *p, char *buf, size_t len)
{
    if (p->numa >= 0)
        snprintf(buf, len, "NUMA node %d (nodeset %s), cpus %s [%s: %s]", p->numa, p->nodes,
                 p->cpus, sl_place_source_name(p->source), p->how);
    else
        snprintf(buf, len, "NUMA nodes %s, cpus %s [%s: %s]", p->nodes, p->cpus,
                 sl_place_source_name(p->source), p->how);
    return buf;
}

int sl_placement_bind_thread(const sl_topo *t, const sl_placement *p, char *msg, size_t msglen)
{
    int rc = 0;
    sl_set_msg(msg, msglen, "%s", "");
    if (!t->thissystem) {
        sl_set_msg(msg, msglen,
                   "cannot bind to cpus %s: the topology is not this machine's (XML or synthetic)",
                   p->cpus);
        return SL_EUNSUPPORTED;
    }
    hwloc_bitmap_t cpus = hwloc_bitmap_alloc(), nodes = hwloc_bitmap_alloc();
    if (!cpus || !nodes) {
        sl_set_msg(msg, msglen, "out of memory");
        rc = SL_ENOMEM;
        goto out;
    }
    if (hwloc_bitmap_list_sscanf(cpus, p->cpus) < 0 || hwloc_bitmap_iszero(cpus) ||
        hwloc_bitmap_list_sscanf(nodes, p->nodes) < 0 || hwloc_bitmap_iszero(nodes)) {
        sl_set_msg(msg, msglen, "placement lists do not parse: cpus \"%s\", nodes \"%s\"", p->cpus,
                   p->nodes);
        rc = SL_EINVAL;
        goto out;
    }
    if (hwloc_set_cpubind(t->h, cpus, HWLOC_CPUBIND_THREAD) < 0) {
        sl_set_msg(msg, msglen, "binding this thread to cpus %s failed: %s", p->cpus,
                   strerror(errno));
        rc = SL_EUNSUPPORTED;
        goto out;
    }
    hwloc_const_nodeset_t all = hwloc_topology_get_topology_nodeset(t->h);
    if (hwloc_bitmap_isincluded(all, nodes)) {
        /* Binding memory to every node would only swap the kernel's local-first default for
         * MPOL_BIND's fixed order; and on one node there is nothing to choose. */
        if (t->nnuma == 1)
            sl_set_msg(msg, msglen, "one NUMA node: memory binding not needed");
        else
            sl_set_msg(msg, msglen,
                       "nodes %s are all of the machine's: memory left to the default local-first "
                       "policy",
                       p->nodes);
        goto out;
    }
    if (hwloc_set_membind(t->h, nodes, HWLOC_MEMBIND_BIND,
                          HWLOC_MEMBIND_THREAD | HWLOC_MEMBIND_BYNODESET) < 0) {
        sl_set_msg(msg, msglen,
                   "binding this thread's memory to NUMA nodes %s failed: %s (the CPU binding to "
                   "cpus %s stays)",
                   p->nodes, strerror(errno), p->cpus);
        rc = SL_EUNSUPPORTED;
        goto out;
    }
out:
    hwloc_bitmap_free(cpus);
    hwloc_bitmap_free(nodes);
    return rc;
}

int sl_placement_report(FILE *out, const sl_place_override *ovs, size_t nov, char *msg,
                        size_t msglen)
{
    sl_topo *t = NULL;
    int rc = sl_topo_load(&t, NULL, msg, msglen);
    if (rc < 0) {
        fprintf(out, "placement: cannot read this machine's topology: %s\n", msg);
        return rc;
    }
    /* The release that discovered the topology, from the root's info (the API version
     * differs from the release number). */
    const char *ver = hwloc_obj_get_info_by_name(hwloc_get_root_obj(t->h), "hwlocVersion");
    char all[SL_PLACE_LIST_MAX];
    list_str(hwloc_topology_get_topology_cpuset(t->h), all);
    int npu = hwloc_get_nbobjs_by_type(t->h, HWLOC_OBJ_PU);
    fprintf(out, "placement (hwloc %s%s): %d NUMA node%s, %d PU%s (cpus %s)\n", ver ? ver : "?",
            t->thissystem ? "" : ", not this machine's topology", t->nnuma,
            t->nnuma == 1 ? "" : "s", npu, npu == 1 ? "" : "s", all);

    cl_platform_id plats[16];
    cl_uint np = 0;
    cl_int st = clGetPlatformIDs(16, plats, &np);
    if (st != CL_SUCCESS || np == 0) {
        fprintf(out, "  no OpenCL platform\n");
        sl_set_msg(msg, msglen, "no OpenCL platform found");
        rc = SL_ENODEV;
        goto out;
    }
    int index = 0;
    for (cl_uint i = 0; i < np && i < 16; i++) {
        cl_device_id devs[64];
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[i], CL_DEVICE_TYPE_ALL, 64, devs, &nd) != CL_SUCCESS)
            continue;
        for (cl_uint j = 0; j < nd && j < 64; j++, index++) {
            sl_devloc loc;
            sl_placement p;
            char m[512], line[1024];
            if (sl_devloc_from_cl(devs[j], &loc, m, sizeof m) < 0) {
                fprintf(out, "[%d] ?\n    cannot describe the device: %s\n", index, m);
                continue;
            }
            fprintf(out, "[%d] %s\n", index, loc.name);
            int prc =
                sl_topo_place(t, &loc, sl_place_override_find(ovs, nov, loc.name), &p, m, sizeof m);
            if (prc < 0)
                fprintf(out, "    placement error: %s\n", m);
            else
                fprintf(out, "    %s\n", sl_placement_str(&p, line, sizeof line));
        }
    }
    sl_set_msg(msg, msglen, "%s", "");
out:
    sl_topo_free(&t);
    return rc;
}
