/* cgroup.c - a container's control group on cgroup v1, hybrid and unified v2.
 *
 * The host is described as a list of hierarchies found in mountinfo: every
 * v1 mount (one or more controllers, or a named hierarchy such as
 * name=systemd) and the cgroup2 mount. Each controller berth drives is bound
 * to the v1 hierarchy that has it, else to cgroup2 if its root lists it (or
 * it is a core cgroup2 feature: freezing, device filtering, cpu.stat). That
 * one rule covers the three layouts: on a hybrid host whose cgroup2 only
 * holds hugetlb, hugetlb limits land in /sys/fs/cgroup/unified and the rest
 * in v1. The container's directory is created in every hierarchy, so its
 * processes are tracked everywhere (name=systemd included), as runc does.
 *
 * The container's cgroup has one path, the same in every hierarchy, so the
 * cgroup_path() that later commands get back from the saved state names the
 * same directories again (see resolve_paths for relative paths).
 *
 * linux.resources is parsed and validated completely before the first
 * write, so a bad field in an update changes nothing. A new container (one
 * cgroup_create() ran for) always gets a device policy: its devices list or
 * none, plus runc's default devices, as runc applies them.
 */
#include "libberth/runtime/cgroup.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/parse.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "libberth/common/json-util.h"
#include "libberth/runtime/cgroup-internal.h"

#define MOUNTINFO_MAX (16u << 20)
#define SELF_CGROUP_MAX (1u << 20)
#define KNOB_MAX (1u << 20)
#define PROCS_MAX (32u << 20) /* cgroup.procs of PID_MAX_LIMIT processes fits */
#define CGROUPS_PATH_MAX 4096
#define TREE_DEPTH_MAX 64
#define LIST_MAX 4096 /* entries in any linux.resources array */
#define RES "linux.resources"

enum ctrl {
    C_CPU,
    C_CPUACCT,
    C_CPUSET,
    C_MEMORY,
    C_DEVICES,
    C_FREEZER,
    C_BLKIO,
    C_PIDS,
    C_HUGETLB,
    C_NET_CLS,
    C_NET_PRIO,
    C_RDMA,
    C__MAX,
};

static const struct {
    const char *v1; /* v1 controller name */
    const char *v2; /* cgroup2 controller name, NULL if there is none */
    bool core;      /* on cgroup2 a core feature that needs no controller */
} ctrl_names[C__MAX] = {
    [C_CPU] = {"cpu", "cpu", false},
    [C_CPUACCT] = {"cpuacct", NULL, true}, /* cpu.stat */
    [C_CPUSET] = {"cpuset", "cpuset", false},
    [C_MEMORY] = {"memory", "memory", false},
    [C_DEVICES] = {"devices", NULL, true}, /* BPF_CGROUP_DEVICE */
    [C_FREEZER] = {"freezer", NULL, true}, /* cgroup.freeze */
    [C_BLKIO] = {"blkio", "io", false},
    [C_PIDS] = {"pids", "pids", false},
    [C_HUGETLB] = {"hugetlb", "hugetlb", false},
    [C_NET_CLS] = {"net_cls", NULL, false},
    [C_NET_PRIO] = {"net_prio", NULL, false},
    [C_RDMA] = {"rdma", "rdma", false},
};

/* Controllers berth enables in cgroup.subtree_control on the way down. */
static const char *const v2_wanted[] = {"cpu", "cpuset", "io", "memory", "pids", "hugetlb", "rdma"};

/* v1 mount options that name a controller; anything else in the super
 * options (rw, xattr, release_agent=...) is not one. */
static const char *const v1_known[] = {
    "cpu",        "cpuacct", "cpuset",  "memory", "devices", "freezer", "net_cls", "net_prio",
    "perf_event", "blkio",   "hugetlb", "pids",   "rdma",    "misc",    "debug",   NULL,
};

struct hier {
    bool v2;
    char **controllers; /* v1: controllers and "name=..."; v2: the root's cgroup.controllers */
    char *devid;        /* major:minor of the superblock, to skip bind mounts of a hierarchy */
    char *mnt;          /* mount point, root prefix included */
    char *mnt_root;     /* the mount's root inside the hierarchy (mountinfo field 4) */
    char *path;         /* the cgroup inside the hierarchy, "/a/b" */
    char *dir;          /* mnt + path */
    char *label;        /* "cpu,cpuacct", "name=systemd" or "cgroup2", for messages */
};

struct cgroup {
    enum cgroup_mode mode;
    struct hier *h;
    size_t n;
    int map[C__MAX]; /* index into h for each controller, -1 if the host lacks it */
    int unified;     /* index of the cgroup2 hierarchy, -1 if none */
    char *path;
    bool created;          /* cgroup_create() ran on this struct: this is a new container */
    struct cgroup_sys sys; /* hooks only; the texts are not kept */
};

/* ---- small helpers ---------------------------------------------------- */

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) {
        s[--n] = '\0';
    }
    return s;
}

static uint64_t now_usec(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void sleep_usec(uint64_t us)
{
    struct timespec ts = {.tv_sec = (time_t)(us / 1000000u),
                          .tv_nsec = (long)(us % 1000000u) * 1000};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR) {
    }
}

/* Split on any whitespace, dropping empty words. */
static char **split_words(const char *s)
{
    char **v = xcalloc(1, sizeof(char *));
    while (*s) {
        while (*s && isspace((unsigned char)*s)) {
            s++;
        }
        const char *b = s;
        while (*s && !isspace((unsigned char)*s)) {
            s++;
        }
        if (s > b) {
            strv_consume(&v, xstrndup(b, (size_t)(s - b)));
        }
    }
    return v;
}

static void hier_release(struct hier *h)
{
    strv_free(h->controllers);
    free(h->devid);
    free(h->mnt);
    free(h->mnt_root);
    free(h->path);
    free(h->dir);
    free(h->label);
}

void cgroup_free(struct cgroup *cg)
{
    if (!cg) {
        return;
    }
    for (size_t i = 0; i < cg->n; i++) {
        hier_release(&cg->h[i]);
    }
    free(cg->h);
    free(cg->path);
    free(cg);
}

/* ---- discovery --------------------------------------------------------- */

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static char *unescape_mount(const char *s)
{
    char *out = xmalloc(strlen(s) + 1), *o = out;
    while (*s) {
        if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' && s[2] <= '7' &&
            s[3] >= '0' && s[3] <= '7') {
            *o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 + (s[3] - '0'));
            s += 4;
        } else {
            *o++ = *s++;
        }
    }
    *o = '\0';
    return out;
}

/* Collect the cgroup hierarchies of a mountinfo text. A hierarchy mounted
 * twice (bind mounts, a container's view) is kept once, at its first mount. */
static void parse_mountinfo(const char *text, const char *root, struct hier **ret, size_t *ret_n)
{
    struct hier *hs = NULL;
    size_t n = 0, alloc = 0;
    _cleanup_strv_free_ char **lines = strv_split(text, "\n");

    for (size_t l = 0; lines[l]; l++) {
        _cleanup_strv_free_ char **f = strv_split(lines[l], " ");
        size_t nf = strv_length(f), sep = 0;
        for (size_t i = 6; i < nf; i++) {
            if (streq(f[i], "-")) {
                sep = i;
                break;
            }
        }
        /* After "-": fstype, source, super options. */
        if (sep == 0 || sep + 3 >= nf) {
            continue;
        }
        const char *fstype = f[sep + 1], *super = f[sep + 3];
        bool v2 = streq(fstype, "cgroup2");
        if (!v2 && !streq(fstype, "cgroup")) {
            continue;
        }
        bool seen = false;
        for (size_t i = 0; i < n; i++) {
            seen = seen || streq(hs[i].devid, f[2]);
        }
        if (seen) {
            continue;
        }
        char **ctrls = xcalloc(1, sizeof(char *));
        if (!v2) {
            _cleanup_strv_free_ char **opts = strv_split(super, ",");
            for (size_t i = 0; opts[i]; i++) {
                if (strv_contains((char **)v1_known, opts[i]) || strneq(opts[i], "name=", 5)) {
                    strv_push(&ctrls, opts[i]);
                }
            }
            if (!ctrls[0]) {
                strv_free(ctrls);
                continue;
            }
        }
        hs = xgrow(hs, sizeof(*hs), n, &alloc);
        struct hier *h = &hs[n++];
        *h = (struct hier){.v2 = v2, .controllers = ctrls};
        h->devid = xstrdup(f[2]);
        _cleanup_free_ char *mp = unescape_mount(f[4]);
        h->mnt = xasprintf("%s%s", root ? root : "", mp);
        h->mnt_root = unescape_mount(f[3]);
        h->label = v2 ? xstrdup("cgroup2") : strv_join(ctrls, ",");
    }
    *ret = hs;
    *ret_n = n;
}

static bool hier_is_v1_controller(const struct hier *h)
{
    for (size_t i = 0; !h->v2 && h->controllers[i]; i++) {
        if (!strneq(h->controllers[i], "name=", 5)) {
            return true;
        }
    }
    return false;
}

static enum cgroup_mode mode_of(const struct hier *h, size_t n)
{
    bool v1 = false, v2 = false;
    for (size_t i = 0; i < n; i++) {
        v2 = v2 || h[i].v2;
        v1 = v1 || hier_is_v1_controller(&h[i]);
    }
    if (v2 && !v1) {
        return CGROUP_MODE_UNIFIED;
    }
    return v2 ? CGROUP_MODE_HYBRID : CGROUP_MODE_LEGACY;
}

static void free_hiers(struct hier *hs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        hier_release(&hs[i]);
    }
    free(hs);
}

int cgroup_mode_from_mountinfo(const char *mountinfo, enum cgroup_mode *ret,
                               struct berth_error **err)
{
    struct hier *hs = NULL;
    size_t n = 0;
    parse_mountinfo(mountinfo, "", &hs, &n);
    enum cgroup_mode mode = mode_of(hs, n);
    free_hiers(hs, n);
    if (n == 0) {
        return berth_error_set(err, ENOENT, "no cgroup filesystem is mounted");
    }
    *ret = mode;
    return 0;
}

/* The host's mounts and this process's own cgroup do not change while one
 * command runs (nor, for what is read here, between a runtime's create and
 * the init it clones): each file is read once per process, the first time
 * any thread asks (a command resolves its cgroup several times, and the
 * reads showed up in profiles). A process that shares or copies this one's
 * memory (the monitor, the container's init) finds them read. */
struct once_file {
    pthread_once_t once;
    const char *path;
    size_t max;
    char *text;
    int error; /* -errno of the read */
};
static struct once_file mountinfo_file = {PTHREAD_ONCE_INIT, "/proc/self/mountinfo", MOUNTINFO_MAX,
                                          NULL, 0};
static struct once_file self_cgroup_file = {PTHREAD_ONCE_INIT, "/proc/self/cgroup", SELF_CGROUP_MAX,
                                            NULL, 0};

static void read_mountinfo_once(void)
{
    struct once_file *f = &mountinfo_file;
    f->error = read_file_at(AT_FDCWD, f->path, f->max, &f->text, NULL, NULL);
}

static void read_self_cgroup_once(void)
{
    struct once_file *f = &self_cgroup_file;
    f->error = read_file_at(AT_FDCWD, f->path, f->max, &f->text, NULL, NULL);
}

static int once_file_get(struct once_file *f, void (*read_once)(void), const char **ret,
                         struct berth_error **err)
{
    pthread_once(&f->once, read_once);
    if (f->error < 0 || !f->text) {
        return berth_error_sys(err, f->error < 0 ? -f->error : EIO, "read '%s'", f->path);
    }
    *ret = f->text;
    return 0;
}

int cgroup_host_mountinfo(const char **ret, struct berth_error **err)
{
    return once_file_get(&mountinfo_file, read_mountinfo_once, ret, err);
}

int cgroup_detect_mode(enum cgroup_mode *ret, struct berth_error **err)
{
    const char *mi;
    int r = cgroup_host_mountinfo(&mi, err);
    if (r < 0) {
        return r;
    }
    return cgroup_mode_from_mountinfo(mi, ret, err);
}

/* The calling process's cgroup in hierarchy h, from /proc/self/cgroup,
 * made relative to the mount's root (runc's GetOwnCgroupPath). A cgroup
 * outside the mount's root (another cgroup namespace) counts as the root. */
static char *own_cgroup(const char *self_cgroup, const struct hier *h)
{
    _cleanup_strv_free_ char **lines = strv_split(self_cgroup ? self_cgroup : "", "\n");
    const char *found = NULL;
    _cleanup_free_ char *line_copy = NULL;
    for (size_t l = 0; lines[l] && !found; l++) {
        char *c1 = strchr(lines[l], ':');
        char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2) {
            continue;
        }
        *c1 = *c2 = '\0';
        if (h->v2) {
            if (streq(lines[l], "0") && c1 + 1 == c2) {
                found = c2 + 1;
            }
            continue;
        }
        _cleanup_strv_free_ char **names = strv_split(c1 + 1, ",");
        for (size_t i = 0; names[i]; i++) {
            if (strv_contains(h->controllers, names[i])) {
                found = c2 + 1;
                break;
            }
        }
    }
    if (!found || found[0] != '/') {
        return xstrdup("/");
    }
    size_t rl = strlen(h->mnt_root);
    if (streq(h->mnt_root, "/")) {
        return xstrdup(found);
    }
    if (strneq(found, h->mnt_root, rl) && (found[rl] == '\0' || found[rl] == '/')) {
        return xstrdup(found[rl] ? found + rl : "/");
    }
    return xstrdup("/");
}

/* Normalise to "/a/b": empty and "." components dropped, ".." refused so
 * that no cgroupsPath can climb out of the hierarchy it names. */
static int clean_path(const char *in, char **ret)
{
    struct strbuf sb = STRBUF_INIT;
    _cleanup_strv_free_ char **parts = strv_split(in, "/");
    for (size_t i = 0; parts[i]; i++) {
        if (!parts[i][0] || streq(parts[i], ".")) {
            continue;
        }
        if (streq(parts[i], "..")) {
            strbuf_release(&sb);
            return -EINVAL;
        }
        strbuf_addc(&sb, '/');
        strbuf_adds(&sb, parts[i]);
    }
    if (sb.len == 0) {
        strbuf_addc(&sb, '/');
    }
    *ret = strbuf_detach(&sb, NULL);
    return 0;
}

/* systemd's slice naming: "a-b-c.slice" lives at /a.slice/a-b.slice/a-b-c.slice,
 * "-.slice" is the root. Empty components ("a--b", "-a") are invalid. */
static int expand_slice(const char *slice, struct strbuf *out)
{
    size_t len = strlen(slice);
    if (len < strlen(".slice") || strcmp(slice + len - 6, ".slice") != 0 || strchr(slice, '/')) {
        return -EINVAL;
    }
    _cleanup_free_ char *name = xstrndup(slice, len - 6);
    if (streq(name, "-")) {
        return 0;
    }
    _cleanup_strv_free_ char **parts = strv_split(name, "-");
    struct strbuf prefix = STRBUF_INIT;
    int r = 0;
    for (size_t i = 0; parts[i]; i++) {
        if (!parts[i][0]) {
            r = -EINVAL;
            break;
        }
        strbuf_addf(out, "/%s%s.slice", strbuf_str(&prefix), parts[i]);
        strbuf_addf(&prefix, "%s-", parts[i]);
    }
    strbuf_release(&prefix);
    return r;
}

/* "slice:prefix:name" -> "/<slice path>/<prefix>-<name>.scope", as runc's
 * systemd driver names the unit; a name ending in ".slice" is taken as the
 * unit itself. No systemd is asked: we only borrow its naming. */
static int systemd_path(const char *spec, const char *id, char **ret, struct berth_error **err)
{
    _cleanup_strv_free_ char **parts = NULL;
    if (!spec || !*spec) {
        if (!id || !*id) {
            return berth_error_set(err, EINVAL, "cgroupsPath: empty and no container id");
        }
        parts = xcalloc(4, sizeof(char *));
        parts[0] = xstrdup("system.slice");
        parts[1] = xstrdup("berth");
        parts[2] = xstrdup(id);
    } else {
        parts = strv_split(spec, ":");
    }
    if (strv_length(parts) != 3) {
        return berth_error_set(err, EINVAL,
                               "cgroupsPath '%s': expected 'slice:prefix:name' for the systemd "
                               "cgroup driver",
                               spec);
    }
    const char *slice = parts[0][0] ? parts[0] : "system.slice";
    const char *prefix = parts[1], *name = parts[2];
    if (!name[0] || strchr(name, '/') || strchr(prefix, '/') || streq(name, "..") ||
        streq(name, ".")) {
        return berth_error_set(err, EINVAL, "cgroupsPath '%s': invalid unit name '%s'",
                               spec ? spec : "", name);
    }
    struct strbuf sb = STRBUF_INIT;
    if (expand_slice(slice, &sb) < 0) {
        strbuf_release(&sb);
        return berth_error_set(err, EINVAL, "cgroupsPath '%s': invalid slice name '%s'",
                               spec ? spec : "", slice);
    }
    size_t nl = strlen(name);
    if (nl > 6 && streq(name + nl - 6, ".slice")) {
        strbuf_addf(&sb, "/%s", name);
    } else if (prefix[0]) {
        strbuf_addf(&sb, "/%s-%s.scope", prefix, name);
    } else {
        strbuf_addf(&sb, "/%s.scope", name);
    }
    *ret = strbuf_detach(&sb, NULL);
    return 0;
}

/* The hierarchy whose path cgroup_path() shows: cgroup2 on a unified host,
 * else memory's (the limit that matters most to nest under), else any. */
static int primary_hier(const struct cgroup *cg)
{
    if (cg->mode == CGROUP_MODE_UNIFIED && cg->unified >= 0) {
        return cg->unified;
    }
    return cg->map[C_MEMORY] >= 0 ? cg->map[C_MEMORY] : 0;
}

/* One absolute path for every hierarchy. Later commands rebuild the struct
 * from the saved cgroup_path(), so it must name the same directory in each
 * hierarchy and resolve to itself when given back:
 *  - absolute paths are taken as they are (with the systemd driver too, so
 *    that a saved "/system.slice/x.scope" round-trips);
 *  - a relative path goes under our own cgroup, as runc does; where our own
 *    cgroups differ between v1 hierarchies (this host: memory is nested,
 *    the rest at "/"), the primary hierarchy's is used for all of them, or
 *    the saved path would not match the other hierarchies' directories. */
static int resolve_paths(struct cgroup *cg, const char *self_cgroup, const char *cgroups_path,
                         const char *id, bool systemd, struct berth_error **err)
{
    const char *shown = cgroups_path && *cgroups_path ? cgroups_path : id ? id : "";
    _cleanup_free_ char *path = NULL;
    int r;

    if (systemd && !(cgroups_path && cgroups_path[0] == '/')) {
        _cleanup_free_ char *p = NULL;
        r = systemd_path(cgroups_path, id, &p, err);
        if (r < 0) {
            return r;
        }
        if (clean_path(p, &path) < 0) {
            return berth_error_set(err, EINVAL, "cgroupsPath '%s': '..' is not allowed", shown);
        }
    } else {
        const char *p = cgroups_path && *cgroups_path ? cgroups_path : id;
        _cleanup_free_ char *rel = NULL;
        if (!p || !*p) {
            return berth_error_set(err, EINVAL, "cgroupsPath: empty and no container id");
        }
        if (clean_path(p, p[0] == '/' ? &path : &rel) < 0) {
            return berth_error_set(err, EINVAL, "cgroupsPath '%s': '..' is not allowed", shown);
        }
        if (rel && streq(rel, "/")) {
            return berth_error_set(err, EINVAL, "cgroupsPath '%s': names no cgroup", shown);
        }
        if (rel) {
            _cleanup_free_ char *own = own_cgroup(self_cgroup, &cg->h[primary_hier(cg)]);
            _cleanup_free_ char *joined = xasprintf("%s%s", own, rel);
            if (clean_path(joined, &path) < 0) {
                return berth_error_set(err, EINVAL, "cgroupsPath '%s': '..' is not allowed", shown);
            }
        }
    }
    if (streq(path, "/")) {
        /* The root holds every process of the host: never a container's. */
        return berth_error_set(err, EINVAL, "cgroupsPath '%s': is the cgroup root", shown);
    }
    for (size_t i = 0; i < cg->n; i++) {
        cg->h[i].path = xstrdup(path);
        cg->h[i].dir = xasprintf("%s%s", cg->h[i].mnt, path);
    }
    cg->path = TAKE_PTR(path);
    return 0;
}

int cgroup_new_sys(const struct cgroup_sys *sys, const char *cgroups_path, const char *id,
                   bool systemd, struct cgroup **ret, struct berth_error **err)
{
    if ((cgroups_path && strlen(cgroups_path) > CGROUPS_PATH_MAX) ||
        (id && strlen(id) > CGROUPS_PATH_MAX)) {
        return berth_error_set(err, ENAMETOOLONG, "cgroupsPath: longer than %d bytes",
                               CGROUPS_PATH_MAX);
    }
    _cleanup_(cgroup_freep) struct cgroup *cg = xcalloc(1, sizeof(*cg));
    cg->sys = *sys;
    cg->sys.mountinfo = cg->sys.self_cgroup = cg->sys.root = NULL;
    cg->unified = -1;

    parse_mountinfo(sys->mountinfo ? sys->mountinfo : "", sys->root, &cg->h, &cg->n);
    if (cg->n == 0) {
        return berth_error_set(err, ENOENT, "no cgroup filesystem is mounted");
    }
    cg->mode = mode_of(cg->h, cg->n);
    for (size_t i = 0; i < cg->n; i++) {
        if (!cg->h[i].v2 || cg->unified >= 0) {
            continue;
        }
        cg->unified = (int)i;
        _cleanup_free_ char *p = xasprintf("%s/cgroup.controllers", cg->h[i].mnt);
        _cleanup_free_ char *text = NULL;
        if (read_file_at(AT_FDCWD, p, KNOB_MAX, &text, NULL, NULL) < 0) {
            log_debug("cgroup: cannot read '%s', assuming no cgroup2 controllers", p);
        } else {
            strv_free(cg->h[i].controllers);
            cg->h[i].controllers = split_words(text);
        }
    }
    for (int c = 0; c < C__MAX; c++) {
        cg->map[c] = -1;
        for (size_t i = 0; i < cg->n && cg->map[c] < 0; i++) {
            if (!cg->h[i].v2 && strv_contains(cg->h[i].controllers, ctrl_names[c].v1)) {
                cg->map[c] = (int)i;
            }
        }
        if (cg->map[c] < 0 && cg->unified >= 0 &&
            (ctrl_names[c].core ||
             (ctrl_names[c].v2 &&
              strv_contains(cg->h[cg->unified].controllers, ctrl_names[c].v2)))) {
            cg->map[c] = cg->unified;
        }
    }
    int r = resolve_paths(cg, sys->self_cgroup, cgroups_path, id, systemd, err);
    if (r < 0) {
        return r;
    }
    *ret = TAKE_PTR(cg);
    return 0;
}

int cgroup_new(const char *cgroups_path, const char *id, bool systemd, struct cgroup **ret,
               struct berth_error **err)
{
    const char *mi = NULL, *self = NULL;
    int r = cgroup_host_mountinfo(&mi, err);
    if (r >= 0) {
        r = once_file_get(&self_cgroup_file, read_self_cgroup_once, &self, err);
    }
    if (r < 0) {
        return r;
    }
    struct cgroup_sys sys = {.mountinfo = mi, .self_cgroup = self, .root = ""};
    return cgroup_new_sys(&sys, cgroups_path, id, systemd, ret, err);
}

const char *cgroup_path(const struct cgroup *cg)
{
    return cg->path;
}

const char *cgroup_dir_for(const struct cgroup *cg, const char *controller)
{
    for (size_t i = 0; i < cg->n; i++) {
        const struct hier *h = &cg->h[i];
        if (h->v2 ? streq(controller, "cgroup2") : strv_contains(h->controllers, controller)) {
            return h->dir;
        }
    }
    return NULL;
}

/* ---- knob I/O ------------------------------------------------------------ */

/* A knob value as shown in messages: one line, bounded. */
static const char *shown_value(const char *v, char *buf, size_t len)
{
    snprintf(buf, len, "%s", v);
    for (char *p = buf; *p; p++) {
        if (*p == '\n') {
            *p = p[1] ? ' ' : '\0';
        }
    }
    return buf;
}

static bool dir_has_controller(const char *dir, const char *ctrl)
{
    _cleanup_free_ char *p = xasprintf("%s/cgroup.controllers", dir);
    _cleanup_free_ char *text = NULL;
    if (read_file_at(AT_FDCWD, p, KNOB_MAX, &text, NULL, NULL) < 0) {
        return false;
    }
    _cleanup_strv_free_ char **v = split_words(text);
    return strv_contains(v, ctrl);
}

/* Write value to dir/file in one write(): a knob takes its value whole. The
 * message names the field and the knob ("<field>: write 'memory.max' = '1':
 * <strerror>"). On cgroup2 a missing knob almost always means its controller
 * is not enabled for this cgroup, which is what we then say. */
static int dir_write(struct cgroup *cg, const char *dir, bool v2, const char *field,
                     const char *file, const char *value, struct berth_error **err)
{
    _cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
    int e = 0;
    if (cg->sys.write_hook) {
        int r = cg->sys.write_hook(cg->sys.userdata, p, value);
        if (r > 0) {
            return 0;
        }
        e = r < 0 ? -r : 0;
    }
    if (e == 0) {
        int fd = open(p, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOCTTY);
        if (fd < 0) {
            e = errno;
        } else {
            size_t len = strlen(value);
            ssize_t n = RETRY_EINTR(write(fd, value, len));
            e = n < 0 ? errno : (size_t)n != len ? EIO : 0;
            safe_close(fd);
        }
    }
    char buf[256];
    if (e == 0) {
        log_debug("cgroup: write '%s' = '%s'", p, shown_value(value, buf, sizeof(buf)));
        return 0;
    }
    const char *pre = field ? field : "", *sep = field ? ": " : "";
    if (e == ENOENT && v2) {
        _cleanup_free_ char *ctrl = xstrndup(file, strcspn(file, "."));
        if (!streq(ctrl, "cgroup") && !dir_has_controller(dir, ctrl)) {
            return berth_error_set(err, EOPNOTSUPP,
                                   "%s%scontroller '%s' is not enabled for this cgroup (no '%s')",
                                   pre, sep, ctrl, file);
        }
    }
    return berth_error_sys(err, e, "%s%swrite '%s' = '%s'", pre, sep, file,
                           shown_value(value, buf, sizeof(buf)));
}

static int knob_write(struct cgroup *cg, const struct hier *h, const char *field, const char *file,
                      const char *value, struct berth_error **err)
{
    return dir_write(cg, h->dir, h->v2, field, file, value, err);
}

static int knob_write_i64(struct cgroup *cg, const struct hier *h, const char *field,
                          const char *file, int64_t v, struct berth_error **err)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRId64, v);
    return knob_write(cg, h, field, file, buf, err);
}

static int knob_write_u64(struct cgroup *cg, const struct hier *h, const char *field,
                          const char *file, uint64_t v, struct berth_error **err)
{
    char buf[32];
    snprintf(buf, sizeof(buf), "%" PRIu64, v);
    return knob_write(cg, h, field, file, buf, err);
}

/* cgroup2 spells "no limit" as "max"; the OCI document as -1. */
static int knob_write_max(struct cgroup *cg, const struct hier *h, const char *field,
                          const char *file, int64_t v, struct berth_error **err)
{
    if (v < 0) {
        return knob_write(cg, h, field, file, "max", err);
    }
    return knob_write_i64(cg, h, field, file, v, err);
}

static int dir_read(const char *dir, const char *file, char **ret, struct berth_error **err)
{
    _cleanup_free_ char *p = xasprintf("%s/%s", dir, file);
    int r = read_file_at(AT_FDCWD, p, KNOB_MAX, ret, NULL, NULL);
    if (r < 0) {
        return berth_error_sys(err, -r, "read '%s'", file);
    }
    return 0;
}

static int knob_read(const struct hier *h, const char *file, char **ret, struct berth_error **err)
{
    return dir_read(h->dir, file, ret, err);
}

/* A single number; "max" reads as UINT64_MAX. */
static int knob_read_u64(const struct hier *h, const char *file, uint64_t *ret,
                         struct berth_error **err)
{
    _cleanup_free_ char *text = NULL;
    int r = knob_read(h, file, &text, err);
    if (r < 0) {
        return r;
    }
    char *v = trim(text);
    if (streq(v, "max")) {
        *ret = UINT64_MAX;
        return 0;
    }
    if (parse_uint64(v, ret) < 0) {
        return berth_error_set(err, EIO, "read '%s': unexpected value '%.64s'", file, v);
    }
    return 0;
}

static bool knob_has(const struct hier *h, const char *file)
{
    _cleanup_free_ char *p = xasprintf("%s/%s", h->dir, file);
    return access(p, F_OK) == 0;
}

/* ---- create and destroy -------------------------------------------------- */

/* Only for a plain directory tree standing in for cgroupfs (tests): on a
 * real cgroupfs the knob files go away with rmdir and cannot be unlinked. */
static void remove_knob_files(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) {
        return;
    }
    struct dirent *de;
    while ((de = readdir(d))) {
        struct stat st;
        if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
            unlinkat(dirfd(d), de->d_name, 0);
        }
    }
    closedir(d);
}

static int remove_dir(struct cgroup *cg, const char *dir)
{
    if (cg->sys.plain_fs) {
        remove_knob_files(dir);
    }
    if (rmdir(dir) < 0 && errno != ENOENT) {
        return -errno;
    }
    return 0;
}

static int make_dir(struct cgroup *cg, const char *dir, char ***made, struct berth_error **err)
{
    if (mkdir(dir, 0755) == 0) {
        strv_push(made, dir);
        if (cg->sys.mkdir_hook) {
            cg->sys.mkdir_hook(cg->sys.userdata, dir);
        }
        return 0;
    }
    if (errno != EEXIST) {
        return berth_error_sys(err, errno, "mkdir '%s'", dir);
    }
    struct stat st;
    if (stat(dir, &st) < 0 || !S_ISDIR(st.st_mode)) {
        return berth_error_set(err, ENOTDIR, "mkdir '%s': exists and is not a directory", dir);
    }
    return 0;
}

static bool mapped_here(const struct cgroup *cg, int hi, const char *v2name)
{
    for (int c = 0; c < C__MAX; c++) {
        if (ctrl_names[c].v2 && streq(ctrl_names[c].v2, v2name) && cg->map[c] == hi) {
            return true;
        }
    }
    return false;
}

/* On cgroup2 a controller reaches a cgroup only if every ancestor lists it
 * in cgroup.subtree_control. Enable, one by one, those berth drives on this
 * hierarchy. A refusal (an ancestor with processes of its own: the "no
 * internal processes" rule) is not fatal here: a limit that needs the
 * controller fails later, naming its field. */
static void enable_controllers(struct cgroup *cg, int hi, const char *dir)
{
    _cleanup_free_ char *avail_text = NULL, *on_text = NULL;
    if (dir_read(dir, "cgroup.controllers", &avail_text, NULL) < 0) {
        return;
    }
    (void)dir_read(dir, "cgroup.subtree_control", &on_text, NULL);
    _cleanup_strv_free_ char **avail = split_words(avail_text);
    _cleanup_strv_free_ char **on = split_words(on_text ? on_text : "");
    for (size_t i = 0; i < ARRAY_SIZE(v2_wanted); i++) {
        const char *c = v2_wanted[i];
        if (!strv_contains(avail, c) || strv_contains(on, c) || !mapped_here(cg, hi, c)) {
            continue;
        }
        _cleanup_free_ char *v = xasprintf("+%s", c);
        _cleanup_error_ struct berth_error *e = NULL;
        if (dir_write(cg, dir, true, NULL, "cgroup.subtree_control", v, &e) < 0) {
            log_debug("cgroup: enable '%s' in '%s': %s", c, dir, e->msg);
        }
    }
}

/* A new v1 cpuset cgroup starts with empty cpuset.cpus and cpuset.mems and
 * the kernel refuses to attach a task to it (ENOSPC): inherit the parent's. */
static int cpuset_inherit(struct cgroup *cg, const char *dir, const char *parent,
                          struct berth_error **err)
{
    static const char *const files[] = {"cpuset.cpus", "cpuset.mems"};
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        _cleanup_free_ char *cur = NULL, *up = NULL;
        int r = dir_read(dir, files[i], &cur, err);
        if (r < 0) {
            return r;
        }
        if (*trim(cur)) {
            continue;
        }
        r = dir_read(parent, files[i], &up, err);
        if (r < 0) {
            return r;
        }
        if (*trim(up) && (r = dir_write(cg, dir, false, NULL, files[i], trim(up), err)) < 0) {
            return r;
        }
    }
    return 0;
}

static int create_in(struct cgroup *cg, int hi, char ***made, struct berth_error **err)
{
    const struct hier *h = &cg->h[hi];
    bool cpuset = !h->v2 && strv_contains(h->controllers, "cpuset");
    _cleanup_strv_free_ char **parts = strv_split(h->path + 1, "/");
    _cleanup_strbuf_ struct strbuf cur = STRBUF_INIT;
    strbuf_adds(&cur, h->mnt);
    for (size_t i = 0; parts[i]; i++) {
        _cleanup_free_ char *parent = xstrdup(strbuf_str(&cur));
        if (h->v2) {
            enable_controllers(cg, hi, parent);
        }
        strbuf_addf(&cur, "/%s", parts[i]);
        int r = make_dir(cg, strbuf_str(&cur), made, err);
        if (r < 0) {
            return r;
        }
        if (cpuset && (r = cpuset_inherit(cg, strbuf_str(&cur), parent, err)) < 0) {
            return r;
        }
    }
    return 0;
}

int cgroup_create(struct cgroup *cg, struct berth_error **err)
{
    _cleanup_strv_free_ char **made = NULL;
    for (size_t i = 0; i < cg->n; i++) {
        int r = create_in(cg, (int)i, &made, err);
        if (r < 0) {
            for (size_t j = strv_length(made); j > 0; j--) {
                (void)remove_dir(cg, made[j - 1]);
            }
            return berth_error_prefix(err, "create cgroup '%s' in '%s'", cg->h[i].path,
                                      cg->h[i].label);
        }
    }
    cg->created = true;
    return 0;
}

/* rmdir dir after its child cgroups, deepest first. 0 or the first -errno;
 * a directory already gone counts as removed. */
static int remove_tree(struct cgroup *cg, const char *dir, int depth)
{
    if (depth > TREE_DEPTH_MAX) {
        return -ELOOP;
    }
    /* A container's cgroup rarely has children: try the rmdir first. Listing
     * a cgroup directory makes the kernel instantiate an entry for each of
     * its dozens of control files, in every hierarchy of a v1 host. A
     * cgroup with child cgroups (or tasks) refuses with EBUSY. */
    if (!cg->sys.plain_fs) {
        int r = remove_dir(cg, dir);
        if (r != -EBUSY && r != -ENOTEMPTY) {
            return r;
        }
    }
    DIR *d = opendir(dir);
    if (!d) {
        return errno == ENOENT ? 0 : -errno;
    }
    int r = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (streq(de->d_name, ".") || streq(de->d_name, "..")) {
            continue;
        }
        struct stat st;
        if (de->d_type != DT_DIR &&
            (de->d_type != DT_UNKNOWN ||
             fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISDIR(st.st_mode))) {
            continue;
        }
        _cleanup_free_ char *child = xasprintf("%s/%s", dir, de->d_name);
        int q = remove_tree(cg, child, depth + 1);
        if (q < 0 && r == 0) {
            r = q;
        }
    }
    closedir(d);
    return r < 0 ? r : remove_dir(cg, dir);
}

/* A cgroup whose last task is still exiting reports EBUSY for a moment
 * after the task is reaped; retry briefly (630 ms in all) before giving up. */
int cgroup_destroy(struct cgroup *cg, struct berth_error **err)
{
    static const unsigned delays_ms[] = {10, 20, 40, 80, 160, 320};
    _cleanup_free_ bool *done = xcalloc(cg->n, sizeof(bool));
    int first = 0;
    for (size_t attempt = 0;; attempt++) {
        int busy = -1;
        for (size_t i = 0; i < cg->n; i++) {
            if (done[i]) {
                continue;
            }
            int r = remove_tree(cg, cg->h[i].dir, 0);
            if (r == -EBUSY) {
                busy = (int)i;
                continue;
            }
            done[i] = true;
            if (r < 0 && first == 0) {
                first = berth_error_sys(err, -r, "remove cgroup '%s'", cg->h[i].dir);
            }
        }
        if (busy < 0) {
            return first;
        }
        if (attempt == ARRAY_SIZE(delays_ms)) {
            return first ? first
                         : berth_error_sys(err, EBUSY, "remove cgroup '%s'", cg->h[busy].dir);
        }
        sleep_usec(delays_ms[attempt] * 1000u);
    }
}

/* ---- linux.resources: parse and validate ------------------------------- */

struct dev_rule {
    bool allow;
    char type;            /* 'a', 'b' or 'c' */
    int64_t major, minor; /* -1: any */
    unsigned access;      /* BPF_DEVCG_ACC_* bits */
};

struct throttle {
    int64_t major, minor;
    uint64_t rate;
};

struct weight_dev {
    int64_t major, minor;
    uint32_t weight, leaf_weight; /* 0: unset */
};

struct hugepage {
    const char *size;
    uint64_t limit;
};

struct prio {
    const char *name;
    uint32_t prio;
};

struct rdma_limit {
    const char *dev;
    bool has_handles, has_objects;
    uint32_t handles, objects;
};

struct kv {
    const char *key, *value;
};

static const struct {
    const char *key, *v1, *v2;
} throttle_kinds[4] = {
    {"throttleReadBpsDevice", "blkio.throttle.read_bps_device", "rbps"},
    {"throttleWriteBpsDevice", "blkio.throttle.write_bps_device", "wbps"},
    {"throttleReadIOPSDevice", "blkio.throttle.read_iops_device", "riops"},
    {"throttleWriteIOPSDevice", "blkio.throttle.write_iops_device", "wiops"},
};

/* The parsed linux.resources. As in runc, 0 means "not set" for the memory
 * limits, cpu shares/quota/period and blkio weights (Docker sends 0 for "no
 * change"); -1 means unlimited. Strings point into the json_t. */
struct res {
    bool has_memory;
    int64_t mem_limit, mem_reservation, mem_swap, mem_kernel, mem_kernel_tcp;
    bool has_swappiness;
    uint64_t swappiness;
    bool has_oom, oom_disable, has_hierarchy, use_hierarchy, check_before_update;

    bool has_cpu_ctrl; /* anything for the cpu controller (not cpuset) */
    uint64_t cpu_shares, cpu_period, cpu_rt_period;
    int64_t cpu_quota, cpu_rt_runtime;
    bool has_burst, has_idle;
    uint64_t cpu_burst;
    int64_t cpu_idle;
    const char *cpus, *mems;

    bool has_pids;
    int64_t pids_limit;

    bool has_blkio;
    uint32_t blkio_weight, blkio_leaf_weight;
    struct weight_dev *wdev;
    size_t n_wdev;
    struct throttle *thr[4];
    size_t n_thr[4];

    struct hugepage *huge;
    size_t n_huge;

    bool has_classid;
    uint32_t classid;
    struct prio *prios;
    size_t n_prios;

    struct rdma_limit *rdma;
    size_t n_rdma;

    bool has_devices, devices_explicit;
    struct dev_rule *dev;
    size_t n_dev;

    struct kv *unified;
    size_t n_unified;
};

static void res_release(struct res *res)
{
    free(res->wdev);
    for (size_t i = 0; i < 4; i++) {
        free(res->thr[i]);
    }
    free(res->huge);
    free(res->prios);
    free(res->rdma);
    free(res->dev);
    free(res->unified);
}

/* A byte or count limit: -1 (unlimited) or >= 0. */
static int get_limit(json_t *o, const char *where, const char *key, int64_t *ret,
                     struct berth_error **err)
{
    if (!jhas(o, key)) {
        return 0;
    }
    int64_t v = 0;
    int r = jget_i64(o, where, key, false, &v, err);
    if (r < 0) {
        return r;
    }
    if (v < -1) {
        return berth_error_set(err, EINVAL,
                               "%s.%s: expected -1 (unlimited) or a non-negative integer, got "
                               "%" PRId64,
                               where, key, v);
    }
    *ret = v;
    return 0;
}

/* A device major or minor; with wildcard, -1 means "any". */
static int get_devnum(json_t *o, const char *where, const char *key, bool required, bool wildcard,
                      int64_t *ret, struct berth_error **err)
{
    if (!jhas(o, key) && !required) {
        return 0;
    }
    int64_t v = 0;
    int r = jget_i64(o, where, key, required, &v, err);
    if (r < 0) {
        return r;
    }
    if ((v < 0 && !(wildcard && v == -1)) || v > UINT32_MAX) {
        return berth_error_set(err, EINVAL, "%s.%s: invalid device number %" PRId64, where, key, v);
    }
    *ret = v;
    return 0;
}

/* An optional array of objects, capped so that input cannot size our work. */
static int get_list(json_t *o, const char *where, const char *key, json_t **ret, size_t *ret_n,
                    struct berth_error **err)
{
    json_t *a = NULL;
    int r = jget_arr(o, where, key, false, &a, err);
    if (r < 0) {
        return r;
    }
    *ret = a;
    *ret_n = a ? json_array_size(a) : 0;
    if (*ret_n > LIST_MAX) {
        return berth_error_set(err, E2BIG, "%s.%s: more than %d entries", where, key, LIST_MAX);
    }
    for (size_t i = 0; i < *ret_n; i++) {
        if (!json_is_object(json_array_get(a, i))) {
            return berth_error_set(err, EINVAL, "%s.%s[%zu]: expected an object", where, key, i);
        }
    }
    return 0;
}

/* "0-3,7": comma-separated numbers and ascending ranges, as cpuset takes. */
static bool valid_cpu_list(const char *s)
{
    const char *p = s;
    for (;;) {
        unsigned long a = 0, b;
        if (!isdigit((unsigned char)*p)) {
            return false;
        }
        for (; isdigit((unsigned char)*p); p++) {
            a = a * 10 + (unsigned long)(*p - '0');
            if (a > 1u << 20) {
                return false;
            }
        }
        if (*p == '-') {
            p++;
            if (!isdigit((unsigned char)*p)) {
                return false;
            }
            for (b = 0; isdigit((unsigned char)*p); p++) {
                b = b * 10 + (unsigned long)(*p - '0');
                if (b > 1u << 20) {
                    return false;
                }
            }
            if (b < a) {
                return false;
            }
        }
        if (*p == '\0') {
            return true;
        }
        if (*p++ != ',') {
            return false;
        }
    }
}

static int parse_memory(json_t *m, struct res *res, struct berth_error **err)
{
    const char *w = RES ".memory";
    int r;
    res->has_memory = true;
    if ((r = get_limit(m, w, "limit", &res->mem_limit, err)) < 0 ||
        (r = get_limit(m, w, "reservation", &res->mem_reservation, err)) < 0 ||
        (r = get_limit(m, w, "swap", &res->mem_swap, err)) < 0 ||
        (r = get_limit(m, w, "kernel", &res->mem_kernel, err)) < 0 ||
        (r = get_limit(m, w, "kernelTCP", &res->mem_kernel_tcp, err)) < 0) {
        return r;
    }
    json_t *sw = json_object_get(m, "swappiness");
    /* runc reads -1 (and its uint64 wrap) as "not set": Docker's default. */
    if (sw && !json_is_null(sw) && !(json_is_integer(sw) && json_integer_value(sw) == -1)) {
        uint64_t v = 0;
        if ((r = jget_u64(m, w, "swappiness", true, &v, err)) < 0) {
            return r;
        }
        if (v != UINT64_MAX) {
            if (v > 100) {
                return berth_error_set(err, EINVAL, "%s.swappiness: expected 0-100, got %" PRIu64,
                                       w, v);
            }
            res->has_swappiness = true;
            res->swappiness = v;
        }
    }
    res->has_oom = jhas(m, "disableOOMKiller");
    res->has_hierarchy = jhas(m, "useHierarchy");
    if ((r = jget_bool(m, w, "disableOOMKiller", &res->oom_disable, err)) < 0 ||
        (r = jget_bool(m, w, "useHierarchy", &res->use_hierarchy, err)) < 0 ||
        (r = jget_bool(m, w, "checkBeforeUpdate", &res->check_before_update, err)) < 0) {
        return r;
    }
    return 0;
}

static int parse_cpu(json_t *c, struct res *res, struct berth_error **err)
{
    const char *w = RES ".cpu";
    int r;
    if ((r = jget_u64(c, w, "shares", false, &res->cpu_shares, err)) < 0 ||
        (r = get_limit(c, w, "quota", &res->cpu_quota, err)) < 0 ||
        (r = jget_u64(c, w, "period", false, &res->cpu_period, err)) < 0 ||
        (r = get_limit(c, w, "realtimeRuntime", &res->cpu_rt_runtime, err)) < 0 ||
        (r = jget_u64(c, w, "realtimePeriod", false, &res->cpu_rt_period, err)) < 0 ||
        (r = jget_str(c, w, "cpus", false, &res->cpus, err)) < 0 ||
        (r = jget_str(c, w, "mems", false, &res->mems, err)) < 0) {
        return r;
    }
    res->has_burst = jhas(c, "burst");
    res->has_idle = jhas(c, "idle");
    if ((r = jget_u64(c, w, "burst", false, &res->cpu_burst, err)) < 0 ||
        (r = jget_i64(c, w, "idle", false, &res->cpu_idle, err)) < 0) {
        return r;
    }
    if (res->has_burst && res->cpu_quota > 0 && res->cpu_burst > (uint64_t)res->cpu_quota) {
        return berth_error_set(err, EINVAL, "%s.burst: %" PRIu64 " is larger than quota %" PRId64,
                               w, res->cpu_burst, res->cpu_quota);
    }
    /* Like runc, an empty list leaves cpuset alone. */
    if (res->cpus && !*res->cpus) {
        res->cpus = NULL;
    }
    if (res->mems && !*res->mems) {
        res->mems = NULL;
    }
    if (res->cpus && !valid_cpu_list(res->cpus)) {
        return berth_error_set(err, EINVAL, "%s.cpus: invalid CPU list '%.64s'", w, res->cpus);
    }
    if (res->mems && !valid_cpu_list(res->mems)) {
        return berth_error_set(err, EINVAL, "%s.mems: invalid memory node list '%.64s'", w,
                               res->mems);
    }
    res->has_cpu_ctrl = res->cpu_shares || res->cpu_quota || res->cpu_period ||
                        res->cpu_rt_runtime || res->cpu_rt_period || res->has_burst ||
                        res->has_idle;
    return 0;
}

static int get_weight(json_t *o, const char *where, const char *key, uint32_t *ret,
                      struct berth_error **err)
{
    uint32_t v = 0;
    int r = jget_u32(o, where, key, false, &v, err);
    if (r < 0) {
        return r;
    }
    if (v != 0 && (v < 10 || v > 1000)) {
        return berth_error_set(err, EINVAL, "%s.%s: expected 10-1000, got %" PRIu32, where, key, v);
    }
    *ret = v;
    return 0;
}

static int parse_blkio(json_t *b, struct res *res, struct berth_error **err)
{
    const char *w = RES ".blockIO";
    json_t *a;
    size_t n;
    int r;
    res->has_blkio = true;
    if ((r = get_weight(b, w, "weight", &res->blkio_weight, err)) < 0 ||
        (r = get_weight(b, w, "leafWeight", &res->blkio_leaf_weight, err)) < 0 ||
        (r = get_list(b, w, "weightDevice", &a, &n, err)) < 0) {
        return r;
    }
    res->wdev = xcalloc(n + 1, sizeof(*res->wdev));
    for (size_t i = 0; i < n; i++, res->n_wdev++) {
        json_t *e = json_array_get(a, i);
        struct weight_dev *d = &res->wdev[i];
        _cleanup_free_ char *ew = xasprintf("%s.weightDevice[%zu]", w, i);
        if ((r = get_devnum(e, ew, "major", true, false, &d->major, err)) < 0 ||
            (r = get_devnum(e, ew, "minor", true, false, &d->minor, err)) < 0 ||
            (r = get_weight(e, ew, "weight", &d->weight, err)) < 0 ||
            (r = get_weight(e, ew, "leafWeight", &d->leaf_weight, err)) < 0) {
            return r;
        }
        if (!d->weight && !d->leaf_weight) {
            return berth_error_set(err, EINVAL, "%s: needs weight or leafWeight", ew);
        }
    }
    for (size_t k = 0; k < 4; k++) {
        if ((r = get_list(b, w, throttle_kinds[k].key, &a, &n, err)) < 0) {
            return r;
        }
        res->thr[k] = xcalloc(n + 1, sizeof(struct throttle));
        for (size_t i = 0; i < n; i++, res->n_thr[k]++) {
            json_t *e = json_array_get(a, i);
            struct throttle *t = &res->thr[k][i];
            _cleanup_free_ char *ew = xasprintf("%s.%s[%zu]", w, throttle_kinds[k].key, i);
            if ((r = get_devnum(e, ew, "major", true, false, &t->major, err)) < 0 ||
                (r = get_devnum(e, ew, "minor", true, false, &t->minor, err)) < 0 ||
                (r = jget_u64(e, ew, "rate", true, &t->rate, err)) < 0) {
                return r;
            }
        }
    }
    return 0;
}

/* "<n><K|M|G>B", the suffix of the kernel's hugetlb.<size>.* knob names. */
static bool valid_page_size(const char *s)
{
    size_t i = 0;
    if (s[0] < '1' || s[0] > '9') {
        return false;
    }
    while (isdigit((unsigned char)s[i])) {
        i++;
    }
    return i < 8 && strchr("KMG", s[i]) && s[i] && s[i + 1] == 'B' && s[i + 2] == '\0';
}

static int parse_hugepages(json_t *resources, struct res *res, struct berth_error **err)
{
    json_t *a;
    size_t n;
    int r = get_list(resources, RES, "hugepageLimits", &a, &n, err);
    if (r < 0) {
        return r;
    }
    res->huge = xcalloc(n + 1, sizeof(*res->huge));
    for (size_t i = 0; i < n; i++, res->n_huge++) {
        json_t *e = json_array_get(a, i);
        _cleanup_free_ char *ew = xasprintf(RES ".hugepageLimits[%zu]", i);
        if ((r = jget_str(e, ew, "pageSize", true, &res->huge[i].size, err)) < 0 ||
            (r = jget_u64(e, ew, "limit", true, &res->huge[i].limit, err)) < 0) {
            return r;
        }
        if (!valid_page_size(res->huge[i].size)) {
            return berth_error_set(err, EINVAL, "%s.pageSize: invalid page size '%.32s'", ew,
                                   res->huge[i].size);
        }
    }
    return 0;
}

/* Names that go into a knob line: no separators, no control characters. */
static bool valid_word(const char *s, size_t max)
{
    size_t n = strlen(s);
    if (n == 0 || n > max) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (isspace((unsigned char)s[i]) || iscntrl((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

static int parse_network(json_t *nw, struct res *res, struct berth_error **err)
{
    const char *w = RES ".network";
    json_t *a;
    size_t n;
    int r;
    res->has_classid = jhas(nw, "classID");
    if ((r = jget_u32(nw, w, "classID", false, &res->classid, err)) < 0 ||
        (r = get_list(nw, w, "priorities", &a, &n, err)) < 0) {
        return r;
    }
    res->prios = xcalloc(n + 1, sizeof(*res->prios));
    for (size_t i = 0; i < n; i++, res->n_prios++) {
        json_t *e = json_array_get(a, i);
        _cleanup_free_ char *ew = xasprintf("%s.priorities[%zu]", w, i);
        if ((r = jget_str(e, ew, "name", true, &res->prios[i].name, err)) < 0 ||
            (r = jget_u32(e, ew, "priority", true, &res->prios[i].prio, err)) < 0) {
            return r;
        }
        if (!valid_word(res->prios[i].name, 15)) {
            return berth_error_set(err, EINVAL, "%s.name: invalid interface name '%.32s'", ew,
                                   res->prios[i].name);
        }
    }
    return 0;
}

static int parse_rdma(json_t *o, struct res *res, struct berth_error **err)
{
    size_t n = json_object_size(o);
    if (n > LIST_MAX) {
        return berth_error_set(err, E2BIG, RES ".rdma: more than %d entries", LIST_MAX);
    }
    res->rdma = xcalloc(n + 1, sizeof(*res->rdma));
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        struct rdma_limit *l = &res->rdma[res->n_rdma++];
        _cleanup_free_ char *ew = xasprintf(RES ".rdma.%s", key);
        int r;
        if (!json_is_object(v)) {
            return berth_error_set(err, EINVAL, "%s: expected an object", ew);
        }
        if (!valid_word(key, 64)) {
            return berth_error_set(err, EINVAL, "%s: invalid device name", ew);
        }
        l->dev = key;
        l->has_handles = jhas(v, "hcaHandles");
        l->has_objects = jhas(v, "hcaObjects");
        if ((r = jget_u32(v, ew, "hcaHandles", false, &l->handles, err)) < 0 ||
            (r = jget_u32(v, ew, "hcaObjects", false, &l->objects, err)) < 0) {
            return r;
        }
        if (!l->has_handles && !l->has_objects) {
            return berth_error_set(err, EINVAL, "%s: needs hcaHandles or hcaObjects", ew);
        }
    }
    return 0;
}

static int parse_dev_rule(json_t *e, const char *ew, struct dev_rule *d, struct berth_error **err)
{
    const char *type = "a", *access = "";
    int r;
    if (!jhas(e, "allow")) {
        return berth_error_set(err, EINVAL, "%s.allow: required field missing", ew);
    }
    d->major = d->minor = -1;
    if ((r = jget_bool(e, ew, "allow", &d->allow, err)) < 0 ||
        (r = jget_str(e, ew, "type", false, &type, err)) < 0 ||
        (r = get_devnum(e, ew, "major", false, true, &d->major, err)) < 0 ||
        (r = get_devnum(e, ew, "minor", false, true, &d->minor, err)) < 0 ||
        (r = jget_str(e, ew, "access", false, &access, err)) < 0) {
        return r;
    }
    if (strlen(type) != 1 || !strchr("abc", type[0])) {
        return berth_error_set(err, EINVAL, "%s.type: expected 'a', 'b' or 'c', got '%.16s'", ew,
                               type);
    }
    d->type = type[0];
    for (const char *p = access; *p; p++) {
        if (*p == 'r') {
            d->access |= BPF_DEVCG_ACC_READ;
        } else if (*p == 'w') {
            d->access |= BPF_DEVCG_ACC_WRITE;
        } else if (*p == 'm') {
            d->access |= BPF_DEVCG_ACC_MKNOD;
        } else {
            return berth_error_set(err, EINVAL, "%s.access: expected letters of 'rwm', got '%.16s'",
                                   ew, access);
        }
    }
    if (d->access == 0) {
        d->access = BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD;
    }
    return 0;
}

/* The devices a container always gets, appended after the configured rules
 * as runc does (so they win): mknod of anything (the node is useless
 * without read/write), /dev/null, random, full, tty, zero, urandom, the
 * pty slaves and ptmx. */
#define ACC_RWM (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)
static const struct dev_rule default_rules[] = {
    {true, 'c', -1, -1, BPF_DEVCG_ACC_MKNOD},
    {true, 'b', -1, -1, BPF_DEVCG_ACC_MKNOD},
    {true, 'c', 1, 3, ACC_RWM},
    {true, 'c', 1, 8, ACC_RWM},
    {true, 'c', 1, 7, ACC_RWM},
    {true, 'c', 5, 0, ACC_RWM},
    {true, 'c', 1, 5, ACC_RWM},
    {true, 'c', 1, 9, ACC_RWM},
    {true, 'c', 136, -1, ACC_RWM},
    {true, 'c', 5, 2, ACC_RWM},
};

static int parse_devices(json_t *a, bool defaults, struct dev_rule **ret, size_t *ret_n,
                         struct berth_error **err)
{
    size_t n = 0;
    if (a && !json_is_array(a)) {
        return berth_error_set(err, EINVAL, RES ".devices: expected an array");
    }
    if (a) {
        n = json_array_size(a);
        if (n > LIST_MAX) {
            return berth_error_set(err, E2BIG, RES ".devices: more than %d entries", LIST_MAX);
        }
    }
    size_t total = n + (defaults ? ARRAY_SIZE(default_rules) : 0);
    _cleanup_free_ struct dev_rule *v = xcalloc(total + 1, sizeof(*v));
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(a, i);
        _cleanup_free_ char *ew = xasprintf(RES ".devices[%zu]", i);
        if (!json_is_object(e)) {
            return berth_error_set(err, EINVAL, "%s: expected an object", ew);
        }
        int r = parse_dev_rule(e, ew, &v[i], err);
        if (r < 0) {
            return r;
        }
    }
    for (size_t i = n; i < total; i++) {
        v[i] = default_rules[i - n];
    }
    *ret = TAKE_PTR(v);
    *ret_n = total;
    return 0;
}

static int parse_unified(json_t *o, struct res *res, struct berth_error **err)
{
    size_t n = json_object_size(o);
    if (n > LIST_MAX) {
        return berth_error_set(err, E2BIG, RES ".unified: more than %d entries", LIST_MAX);
    }
    res->unified = xcalloc(n + 1, sizeof(*res->unified));
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        /* A key is a file name in the container's cgroup directory: never
         * a path that could reach a parent's or another cgroup's knobs. */
        if (!valid_word(key, 255) || strchr(key, '/') || key[0] == '.' || !strchr(key, '.')) {
            return berth_error_set(err, EINVAL, RES ".unified: invalid key '%.64s'", key);
        }
        if (!json_is_string(v)) {
            return berth_error_set(err, EINVAL, RES ".unified.%s: expected a string", key);
        }
        res->unified[res->n_unified++] = (struct kv){key, json_string_value(v)};
    }
    return 0;
}

static int parse_pids(json_t *o, struct res *res, struct berth_error **err)
{
    res->has_pids = true;
    int r = jget_i64(o, RES ".pids", "limit", true, &res->pids_limit, err);
    if (r < 0) {
        return r;
    }
    if (res->pids_limit < -1) {
        return berth_error_set(err, EINVAL,
                               RES ".pids.limit: expected -1 (unlimited) or a non-negative "
                                   "integer, got %" PRId64,
                               res->pids_limit);
    }
    return 0;
}

static int res_parse(json_t *resources, bool created, struct res *res, struct berth_error **err)
{
    static const struct {
        const char *key;
        int (*parse)(json_t *o, struct res *res, struct berth_error **err);
    } sections[] = {
        {"memory", parse_memory},   {"cpu", parse_cpu},         {"pids", parse_pids},
        {"blockIO", parse_blkio},   {"network", parse_network}, {"rdma", parse_rdma},
        {"unified", parse_unified},
    };
    int r;
    if (resources && json_is_null(resources)) {
        resources = NULL;
    }
    if (resources && !json_is_object(resources)) {
        return berth_error_set(err, EINVAL, RES ": expected an object");
    }
    for (size_t i = 0; resources && i < ARRAY_SIZE(sections); i++) {
        json_t *o = NULL;
        if ((r = jget_obj(resources, RES, sections[i].key, false, &o, err)) < 0 ||
            (o && (r = sections[i].parse(o, res, err)) < 0)) {
            return r;
        }
    }
    if (resources && (r = parse_hugepages(resources, res, err)) < 0) {
        return r;
    }
    /* A new container without a devices list gets runc's default: deny all
     * but the default devices. An update that names no devices leaves them. */
    json_t *devs = resources ? json_object_get(resources, "devices") : NULL;
    if (devs && json_is_null(devs)) {
        devs = NULL;
    }
    if (devs || created) {
        res->has_devices = true;
        res->devices_explicit = devs != NULL;
        return parse_devices(devs, true, &res->dev, &res->n_dev, err);
    }
    return 0;
}

/* ---- devices: the cgroup v2 filter -------------------------------------- */

#define INSN(c, d, s, o, i)                                                                        \
    ((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define LDX_W(dst, src, off) INSN(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0)
#define ALU32_IMM(op, dst, imm) INSN(BPF_ALU | (op) | BPF_K, dst, 0, 0, imm)
#define MOV32_REG(dst, src) INSN(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0)
#define MOV64_IMM(dst, imm) INSN(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
#define JMP_IMM(op, dst, imm) INSN(BPF_JMP | (op) | BPF_K, dst, 0, 0, imm)
#define JMP_REG(op, dst, src) INSN(BPF_JMP | (op) | BPF_X, dst, src, 0, 0)
#define EXIT_INSN() INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

struct prog {
    struct bpf_insn *v;
    size_t n, alloc;
};

static size_t emit(struct prog *p, struct bpf_insn in)
{
    p->v = xgrow(p->v, sizeof(*p->v), p->n, &p->alloc);
    p->v[p->n] = in;
    return p->n++;
}

/* One rule: fall through to "return allow" if it matches, else jump past
 * it. An allow rule matches when the requested access is a subset of its
 * own (r2..r5 hold type, access, major, minor); a deny rule as soon as they
 * overlap, so "deny w" also refuses an open for read+write, as v1 does. An
 * 'a' rule matches everything (the kernel's v1 reading of "a") and makes the
 * rules before it unreachable: returns true then. */
static bool emit_rule(struct prog *p, const struct dev_rule *d)
{
    if (d->type == 'a') {
        emit(p, MOV64_IMM(BPF_REG_0, d->allow));
        emit(p, EXIT_INSN());
        return true;
    }
    size_t jumps[4], nj = 0;
    int type = d->type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK;
    jumps[nj++] = emit(p, JMP_IMM(BPF_JNE, BPF_REG_2, type));
    if (d->access != ACC_RWM) {
        emit(p, MOV32_REG(BPF_REG_1, BPF_REG_3));
        emit(p, ALU32_IMM(BPF_AND, BPF_REG_1, (int32_t)d->access));
        jumps[nj++] = d->allow ? emit(p, JMP_REG(BPF_JNE, BPF_REG_1, BPF_REG_3))
                               : emit(p, JMP_IMM(BPF_JEQ, BPF_REG_1, 0));
    }
    if (d->major >= 0) {
        jumps[nj++] = emit(p, JMP_IMM(BPF_JNE, BPF_REG_4, (int32_t)d->major));
    }
    if (d->minor >= 0) {
        jumps[nj++] = emit(p, JMP_IMM(BPF_JNE, BPF_REG_5, (int32_t)d->minor));
    }
    emit(p, MOV64_IMM(BPF_REG_0, d->allow));
    emit(p, EXIT_INSN());
    for (size_t i = 0; i < nj; i++) {
        p->v[jumps[i]].off = (int16_t)(p->n - jumps[i] - 1);
    }
    return false;
}

/* Rules are tried last to first and the first match returns: the last
 * matching rule wins, and no match means deny (runc's semantics). */
static void compile_rules(const struct dev_rule *rules, size_t n, struct bpf_insn **ret,
                          size_t *ret_n)
{
    struct prog p = {0};
    /* struct bpf_cgroup_dev_ctx: access_type = access << 16 | type, major, minor. */
    emit(&p, LDX_W(BPF_REG_2, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, access_type)));
    emit(&p, ALU32_IMM(BPF_AND, BPF_REG_2, 0xFFFF));
    emit(&p, LDX_W(BPF_REG_3, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, access_type)));
    emit(&p, ALU32_IMM(BPF_RSH, BPF_REG_3, 16));
    emit(&p, LDX_W(BPF_REG_4, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, major)));
    emit(&p, LDX_W(BPF_REG_5, BPF_REG_1, offsetof(struct bpf_cgroup_dev_ctx, minor)));
    bool all = false;
    for (size_t i = n; i > 0 && !all; i--) {
        all = emit_rule(&p, &rules[i - 1]);
    }
    if (!all) {
        emit(&p, MOV64_IMM(BPF_REG_0, 0));
        emit(&p, EXIT_INSN());
    }
    *ret = p.v;
    *ret_n = p.n;
}

int cgroup_devices_compile(json_t *devices, bool defaults, struct bpf_insn **ret, size_t *ret_n,
                           struct berth_error **err)
{
    _cleanup_free_ struct dev_rule *rules = NULL;
    size_t n = 0;
    int r = parse_devices(devices, defaults, &rules, &n, err);
    if (r < 0) {
        return r;
    }
    compile_rules(rules, n, ret, ret_n);
    return 0;
}

static int sys_bpf(int cmd, union bpf_attr *attr)
{
    return (int)syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

int cgroup_bpf_load_devices(const struct bpf_insn *insns, size_t n, int *ret_fd,
                            struct berth_error **err)
{
    union bpf_attr attr;
    memset(&attr, 0, sizeof(attr));
    attr.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
    attr.insns = (uint64_t)(uintptr_t)insns;
    attr.insn_cnt = (uint32_t)n;
    attr.license = (uint64_t)(uintptr_t) "Apache";
    int fd = sys_bpf(BPF_PROG_LOAD, &attr);
    if (fd >= 0) {
        *ret_fd = fd; /* bpf() descriptors are always close-on-exec */
        return 0;
    }
    int e = errno;
    if (e != EINVAL && e != EACCES) {
        return berth_error_sys(err, e, "load device filter");
    }
    /* The verifier refused it: load again with its log to say why. */
    size_t loglen = 64 * 1024;
    _cleanup_free_ char *log = xcalloc(1, loglen);
    attr.log_buf = (uint64_t)(uintptr_t)log;
    attr.log_size = (uint32_t)loglen;
    attr.log_level = 1;
    fd = sys_bpf(BPF_PROG_LOAD, &attr);
    if (fd >= 0) {
        *ret_fd = fd;
        return 0;
    }
    char *last = trim(log), *nl;
    while ((nl = strrchr(last, '\n'))) {
        if (*trim(nl + 1)) {
            last = nl + 1;
            break;
        }
        *nl = '\0';
    }
    char buf[128];
    return berth_error_set(err, e, "load device filter: %s%s%.200s%s",
                           berth_strerror(e, buf, sizeof(buf)), *last ? " (verifier: " : "", last,
                           *last ? ")" : "");
}

/* Attach prog to the cgroup and detach the filters attached before (a
 * previous create or update). With BPF_F_ALLOW_MULTI every attached program
 * must allow an access, so old ones would keep their restrictions; they go
 * only after the new one is in place, so the cgroup is never unfiltered. */
static int bpf_attach_devices(const char *dir, int prog, struct berth_error **err)
{
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        return berth_error_sys(err, errno, "open '%s'", dir);
    }
    uint32_t ids[64];
    uint32_t nold = 0;
    union bpf_attr q;
    memset(&q, 0, sizeof(q));
    q.query.target_fd = (uint32_t)dfd;
    q.query.attach_type = BPF_CGROUP_DEVICE;
    q.query.prog_ids = (uint64_t)(uintptr_t)ids;
    q.query.prog_cnt = ARRAY_SIZE(ids);
    if (sys_bpf(BPF_PROG_QUERY, &q) == 0) {
        nold = q.query.prog_cnt;
    } else if (errno == ENOSPC) {
        return berth_error_set(err, ENOSPC, "more than %zu device filters attached to '%s'",
                               ARRAY_SIZE(ids), dir);
    } else {
        char buf[128];
        log_debug("cgroup: query device filters of '%s': %s", dir,
                  berth_strerror(errno, buf, sizeof(buf)));
    }
    union bpf_attr a;
    memset(&a, 0, sizeof(a));
    a.target_fd = (uint32_t)dfd;
    a.attach_bpf_fd = (uint32_t)prog;
    a.attach_type = BPF_CGROUP_DEVICE;
    a.attach_flags = BPF_F_ALLOW_MULTI;
    if (sys_bpf(BPF_PROG_ATTACH, &a) < 0) {
        return berth_error_sys(err, errno, "attach device filter to '%s'", dir);
    }
    for (uint32_t i = 0; i < nold && i < ARRAY_SIZE(ids); i++) {
        union bpf_attr g;
        memset(&g, 0, sizeof(g));
        g.prog_id = ids[i];
        _cleanup_close_ int ofd = sys_bpf(BPF_PROG_GET_FD_BY_ID, &g);
        if (ofd < 0) {
            if (errno == ENOENT) {
                continue;
            }
            return berth_error_sys(err, errno, "detach old device filter %" PRIu32, ids[i]);
        }
        union bpf_attr d;
        memset(&d, 0, sizeof(d));
        d.target_fd = (uint32_t)dfd;
        d.attach_bpf_fd = (uint32_t)ofd;
        d.attach_type = BPF_CGROUP_DEVICE;
        if (sys_bpf(BPF_PROG_DETACH, &d) < 0 && errno != ENOENT) {
            return berth_error_sys(err, errno, "detach old device filter %" PRIu32, ids[i]);
        }
    }
    return 0;
}

/* ---- linux.resources: apply ---------------------------------------------- */

/* Hand a locally collected error to the caller. */
static int propagate(struct berth_error **err, struct berth_error **e)
{
    int code = *e ? (*e)->code : EIO;
    if (err && !*err) {
        *err = TAKE_PTR(*e);
    }
    return -code;
}

static const struct hier *hier_of(const struct cgroup *cg, enum ctrl c)
{
    return cg->map[c] >= 0 ? &cg->h[cg->map[c]] : NULL;
}

static int need(const struct cgroup *cg, enum ctrl c, const char *field, struct berth_error **err)
{
    if (cg->map[c] >= 0) {
        return 0;
    }
    return berth_error_set(err, EOPNOTSUPP,
                           "%s: the '%s' cgroup controller is not available on this host", field,
                           ctrl_names[c].v1);
}

/* Everything that can be known before the first write: controllers present,
 * values the target cgroup version cannot take. */
static int res_check(const struct cgroup *cg, const struct res *res, struct berth_error **err)
{
    int r;
    if ((res->has_memory && (r = need(cg, C_MEMORY, RES ".memory", err)) < 0) ||
        (res->has_cpu_ctrl && (r = need(cg, C_CPU, RES ".cpu", err)) < 0) ||
        (res->cpus && (r = need(cg, C_CPUSET, RES ".cpu.cpus", err)) < 0) ||
        (res->mems && (r = need(cg, C_CPUSET, RES ".cpu.mems", err)) < 0) ||
        (res->has_pids && (r = need(cg, C_PIDS, RES ".pids", err)) < 0) ||
        (res->has_blkio && (r = need(cg, C_BLKIO, RES ".blockIO", err)) < 0) ||
        (res->n_huge && (r = need(cg, C_HUGETLB, RES ".hugepageLimits", err)) < 0) ||
        (res->has_classid && (r = need(cg, C_NET_CLS, RES ".network.classID", err)) < 0) ||
        (res->n_prios && (r = need(cg, C_NET_PRIO, RES ".network.priorities", err)) < 0) ||
        (res->n_rdma && (r = need(cg, C_RDMA, RES ".rdma", err)) < 0) ||
        (res->devices_explicit && (r = need(cg, C_DEVICES, RES ".devices", err)) < 0)) {
        return r;
    }
    const struct hier *cpu = hier_of(cg, C_CPU);
    if (cpu && cpu->v2 && (res->cpu_rt_runtime || res->cpu_rt_period)) {
        return berth_error_set(err, EOPNOTSUPP,
                               RES ".cpu.%s: realtime limits are not supported on cgroup v2",
                               res->cpu_rt_runtime ? "realtimeRuntime" : "realtimePeriod");
    }
    if (res->mem_swap > 0 && res->mem_limit > 0 && res->mem_swap < res->mem_limit) {
        return berth_error_set(err, EINVAL,
                               RES ".memory.swap: memory+swap limit %" PRId64
                                   " is below the memory limit %" PRId64,
                               res->mem_swap, res->mem_limit);
    }
    const struct hier *mem = hier_of(cg, C_MEMORY);
    if (mem && mem->v2 && res->mem_swap > 0 && res->mem_limit <= 0) {
        /* memory.swap.max is swap alone: the memory+swap total converts
         * only together with the memory limit (runc's rule). */
        return berth_error_set(err, EINVAL,
                               RES ".memory.swap: needs memory.limit on cgroup v2 (swap counts "
                                   "memory+swap)");
    }
    if (res->n_unified) {
        if (cg->unified < 0) {
            return berth_error_set(err, EOPNOTSUPP,
                                   RES ".unified: cgroup v2 is not mounted on this host");
        }
        const struct hier *u = &cg->h[cg->unified];
        for (size_t i = 0; i < res->n_unified; i++) {
            const char *key = res->unified[i].key;
            _cleanup_free_ char *ctrl = xstrndup(key, strcspn(key, "."));
            if (!streq(ctrl, "cgroup") && !strv_contains(u->controllers, ctrl)) {
                return berth_error_set(err, EOPNOTSUPP,
                                       RES ".unified.%s: the '%s' controller is not available "
                                           "on cgroup v2 on this host",
                                       key, ctrl);
            }
        }
    }
    return 0;
}

static int write_mem_v1(struct cgroup *cg, const struct hier *h, bool swap, int64_t v,
                        struct berth_error **err)
{
    if (swap) {
        return knob_write_i64(cg, h, RES ".memory.swap", "memory.memsw.limit_in_bytes", v, err);
    }
    _cleanup_error_ struct berth_error *e = NULL;
    int r = knob_write_i64(cg, h, RES ".memory.limit", "memory.limit_in_bytes", v, &e);
    if (r != -EBUSY) {
        return r < 0 ? propagate(err, &e) : 0;
    }
    /* The kernel refuses a limit below what the cgroup already uses. */
    uint64_t usage = 0;
    (void)knob_read_u64(h, "memory.usage_in_bytes", &usage, NULL);
    return berth_error_set(err, EBUSY, "%s (current usage %" PRIu64 " bytes)", e->msg, usage);
}

static int apply_memory_v1(struct cgroup *cg, const struct hier *h, const struct res *res,
                           struct berth_error **err)
{
    int64_t limit = res->mem_limit, swap = res->mem_swap;
    bool memsw = knob_has(h, "memory.memsw.limit_in_bytes");
    int r;

    /* runc: unlimited memory with swap unset means unlimited swap too. */
    if (limit == -1 && swap == 0 && memsw) {
        swap = -1;
    }
    if (swap != 0 && !memsw) {
        if (swap != -1) {
            return berth_error_set(err, EOPNOTSUPP,
                                   RES ".memory.swap: swap accounting is disabled on this host "
                                       "(no 'memory.memsw.limit_in_bytes')");
        }
        swap = 0;
    }
    if (limit != 0 && swap != 0) {
        /* The kernel keeps memory.limit_in_bytes <= memory.memsw.limit_in_bytes
         * at every step. Raise memsw first when it grows past the current
         * limit, else the limit first (runc's order); if the kernel still
         * says EINVAL (the limits moved meanwhile), the other order is it. */
        uint64_t cur = 0;
        if ((r = knob_read_u64(h, "memory.limit_in_bytes", &cur, err)) < 0) {
            return berth_error_prefix(err, RES ".memory.limit");
        }
        bool swap_first = swap == -1 || cur < (uint64_t)swap;
        _cleanup_error_ struct berth_error *e = NULL;
        r = write_mem_v1(cg, h, swap_first, swap_first ? swap : limit, &e);
        if (r == -EINVAL) {
            log_debug("cgroup: %s; retrying in the other order", e->msg);
            swap_first = !swap_first;
            if ((r = write_mem_v1(cg, h, swap_first, swap_first ? swap : limit, err)) < 0) {
                return r;
            }
        } else if (r < 0) {
            return propagate(err, &e);
        }
        r = write_mem_v1(cg, h, !swap_first, swap_first ? limit : swap, err);
    } else {
        r = 0;
        if (limit != 0) {
            r = write_mem_v1(cg, h, false, limit, err);
        }
        if (r == 0 && swap != 0) {
            r = write_mem_v1(cg, h, true, swap, err);
        }
    }
    if (r < 0) {
        return r;
    }
    if (res->mem_reservation &&
        (r = knob_write_i64(cg, h, RES ".memory.reservation", "memory.soft_limit_in_bytes",
                            res->mem_reservation, err)) < 0) {
        return r;
    }
    if (res->mem_kernel) {
        /* Deprecated by the runtime spec; the kernel ignores it since 5.16. */
        log_debug("cgroup: " RES ".memory.kernel is deprecated and ignored");
    }
    if (res->mem_kernel_tcp) {
        if (!knob_has(h, "memory.kmem.tcp.limit_in_bytes")) {
            log_debug("cgroup: no 'memory.kmem.tcp.limit_in_bytes', " RES
                      ".memory.kernelTCP ignored");
        } else if ((r = knob_write_i64(cg, h, RES ".memory.kernelTCP",
                                       "memory.kmem.tcp.limit_in_bytes", res->mem_kernel_tcp,
                                       err)) < 0) {
            return r;
        }
    }
    if (res->has_swappiness &&
        (r = knob_write_u64(cg, h, RES ".memory.swappiness", "memory.swappiness", res->swappiness,
                            err)) < 0) {
        return r;
    }
    if (res->has_oom && (r = knob_write(cg, h, RES ".memory.disableOOMKiller", "memory.oom_control",
                                        res->oom_disable ? "1" : "0", err)) < 0) {
        return r;
    }
    if (res->has_hierarchy) {
        /* Since 5.x the kernel pins use_hierarchy to 1 and refuses "0"
         * writes; only write when it would change. */
        uint64_t cur = 2;
        (void)knob_read_u64(h, "memory.use_hierarchy", &cur, NULL);
        if (cur != (uint64_t)res->use_hierarchy &&
            (r = knob_write(cg, h, RES ".memory.useHierarchy", "memory.use_hierarchy",
                            res->use_hierarchy ? "1" : "0", err)) < 0) {
            return r;
        }
    }
    return 0;
}

static int apply_memory_v2(struct cgroup *cg, const struct hier *h, const struct res *res,
                           struct berth_error **err)
{
    int r;
    if (res->check_before_update && res->mem_limit > 0) {
        /* v1 refuses a limit below usage; v2 would OOM-kill instead. */
        uint64_t usage = 0;
        if (knob_read_u64(h, "memory.current", &usage, NULL) == 0 &&
            (uint64_t)res->mem_limit < usage) {
            return berth_error_set(err, EBUSY,
                                   RES ".memory.limit: %" PRId64
                                       " is below the current usage of %" PRIu64 " bytes",
                                   res->mem_limit, usage);
        }
    }
    bool has_swap = true;
    int64_t swap = 0;
    if ((res->mem_limit == -1 && res->mem_swap == 0) || res->mem_swap == -1) {
        swap = -1;
    } else if (res->mem_swap > 0) {
        swap = res->mem_swap - res->mem_limit; /* res_check: limit > 0, swap >= limit */
    } else {
        has_swap = false;
    }
    if (has_swap) {
        _cleanup_error_ struct berth_error *e = NULL;
        r = knob_write_max(cg, h, RES ".memory.swap", "memory.swap.max", swap, &e);
        /* Without swap accounting, "unlimited" and "none" hold anyway. */
        if (r == -ENOENT && swap <= 0) {
            log_debug("cgroup: no 'memory.swap.max', " RES ".memory.swap ignored");
        } else if (r < 0) {
            return propagate(err, &e);
        }
    }
    if (res->mem_limit &&
        (r = knob_write_max(cg, h, RES ".memory.limit", "memory.max", res->mem_limit, err)) < 0) {
        return r;
    }
    if (res->mem_reservation && (r = knob_write_max(cg, h, RES ".memory.reservation", "memory.low",
                                                    res->mem_reservation, err)) < 0) {
        return r;
    }
    if (res->mem_kernel || res->mem_kernel_tcp || res->has_swappiness || res->has_oom ||
        res->has_hierarchy) {
        log_debug("cgroup: kernel, kernelTCP, swappiness, disableOOMKiller and useHierarchy "
                  "have no cgroup v2 equivalent and are ignored");
    }
    return 0;
}

/* cpu.cfs_period_us / cpu.cfs_burst_us / cpu.rt_period_us can be refused
 * (EINVAL) against the current value of their partner knob that is about to
 * change too; then they are written again after it (runc's order). */
static int write_deferrable(struct cgroup *cg, const struct hier *h, const char *field,
                            const char *file, uint64_t v, bool partner_set, bool *later,
                            struct berth_error **err)
{
    _cleanup_error_ struct berth_error *e = NULL;
    int r = knob_write_u64(cg, h, field, file, v, &e);
    if (r == -EINVAL && partner_set) {
        *later = true;
        return 0;
    }
    return r < 0 ? propagate(err, &e) : 0;
}

static int apply_cpu_v1(struct cgroup *cg, const struct hier *h, const struct res *res,
                        struct berth_error **err)
{
    int r;
    bool period_later = false, burst_later = false, rt_later = false;
    if (res->cpu_shares) {
        uint64_t got = 0;
        if ((r = knob_write_u64(cg, h, RES ".cpu.shares", "cpu.shares", res->cpu_shares, err)) <
                0 ||
            (r = knob_read_u64(h, "cpu.shares", &got, err)) < 0) {
            return r;
        }
        /* The kernel clamps shares to 2..262144 silently; say so instead. */
        if (got != res->cpu_shares) {
            return berth_error_set(err, EINVAL,
                                   RES ".cpu.shares: %" PRIu64 " is out of range, the kernel "
                                       "took %" PRIu64,
                                   res->cpu_shares, got);
        }
    }
    if (res->cpu_period &&
        (r = write_deferrable(cg, h, RES ".cpu.period", "cpu.cfs_period_us", res->cpu_period,
                              res->cpu_quota != 0, &period_later, err)) < 0) {
        return r;
    }
    if (res->has_burst &&
        (r = write_deferrable(cg, h, RES ".cpu.burst", "cpu.cfs_burst_us", res->cpu_burst,
                              res->cpu_quota != 0, &burst_later, err)) < 0) {
        return r;
    }
    if (res->cpu_quota && (r = knob_write_i64(cg, h, RES ".cpu.quota", "cpu.cfs_quota_us",
                                              res->cpu_quota, err)) < 0) {
        return r;
    }
    if ((burst_later && (r = knob_write_u64(cg, h, RES ".cpu.burst", "cpu.cfs_burst_us",
                                            res->cpu_burst, err)) < 0) ||
        (period_later && (r = knob_write_u64(cg, h, RES ".cpu.period", "cpu.cfs_period_us",
                                             res->cpu_period, err)) < 0)) {
        return r;
    }
    if (res->cpu_rt_period &&
        (r = write_deferrable(cg, h, RES ".cpu.realtimePeriod", "cpu.rt_period_us",
                              res->cpu_rt_period, res->cpu_rt_runtime != 0, &rt_later, err)) < 0) {
        return r;
    }
    if (res->cpu_rt_runtime &&
        (r = knob_write_i64(cg, h, RES ".cpu.realtimeRuntime", "cpu.rt_runtime_us",
                            res->cpu_rt_runtime, err)) < 0) {
        return r;
    }
    if (rt_later && (r = knob_write_u64(cg, h, RES ".cpu.realtimePeriod", "cpu.rt_period_us",
                                        res->cpu_rt_period, err)) < 0) {
        return r;
    }
    if (res->has_idle &&
        (r = knob_write_i64(cg, h, RES ".cpu.idle", "cpu.idle", res->cpu_idle, err)) < 0) {
        return r;
    }
    return 0;
}

/* runc's mapping of v1 shares [2, 262144] onto v2 weight [1, 10000]. */
static uint64_t shares_to_weight(uint64_t shares)
{
    if (shares < 2) {
        shares = 2;
    }
    if (shares > 262144) {
        shares = 262144;
    }
    return 1 + ((shares - 2) * 9999) / 262142;
}

static int apply_cpu_v2(struct cgroup *cg, const struct hier *h, const struct res *res,
                        struct berth_error **err)
{
    int r;
    if (res->has_idle &&
        (r = knob_write_i64(cg, h, RES ".cpu.idle", "cpu.idle", res->cpu_idle, err)) < 0) {
        return r;
    }
    /* An idle cgroup has no weight: the kernel refuses it (runc skips it too). */
    if (res->cpu_shares && !(res->has_idle && res->cpu_idle == 1) &&
        (r = knob_write_u64(cg, h, RES ".cpu.shares", "cpu.weight",
                            shares_to_weight(res->cpu_shares), err)) < 0) {
        return r;
    }
    if (res->cpu_quota || res->cpu_period) {
        /* cpu.max is "<quota|max> [period]". A period alone keeps the
         * current quota (runc would reset it to max). */
        char quota[32] = "max", val[64];
        if (res->cpu_quota > 0) {
            snprintf(quota, sizeof(quota), "%" PRId64, res->cpu_quota);
        } else if (res->cpu_quota == 0) {
            _cleanup_free_ char *cur = NULL;
            if (knob_read(h, "cpu.max", &cur, NULL) == 0) {
                char *t = trim(cur);
                snprintf(quota, sizeof(quota), "%.*s", (int)strcspn(t, " "), t);
            }
        }
        if (res->cpu_period) {
            snprintf(val, sizeof(val), "%s %" PRIu64, quota, res->cpu_period);
        } else {
            snprintf(val, sizeof(val), "%s", quota);
        }
        if ((r = knob_write(cg, h, res->cpu_quota ? RES ".cpu.quota" : RES ".cpu.period", "cpu.max",
                            val, err)) < 0) {
            return r;
        }
    }
    if (res->has_burst &&
        (r = knob_write_u64(cg, h, RES ".cpu.burst", "cpu.max.burst", res->cpu_burst, err)) < 0) {
        return r;
    }
    return 0;
}

static int apply_cpuset(struct cgroup *cg, const struct hier *h, const struct res *res,
                        struct berth_error **err)
{
    int r;
    if (res->cpus && (r = knob_write(cg, h, RES ".cpu.cpus", "cpuset.cpus", res->cpus, err)) < 0) {
        return r;
    }
    if (res->mems && (r = knob_write(cg, h, RES ".cpu.mems", "cpuset.mems", res->mems, err)) < 0) {
        return r;
    }
    return 0;
}

/* runc's mapping of blkio weight [10, 1000] onto io.weight [1, 10000]. */
static uint64_t blkio_to_io_weight(uint64_t w)
{
    return 1 + (w - 10) * 9999 / 990;
}

static int apply_blkio(struct cgroup *cg, const struct hier *h, const struct res *res,
                       struct berth_error **err)
{
    char val[96];
    int r;
    /* v1: blkio.weight (CFQ) where the kernel still has it, else BFQ's knob.
     * v2: io.bfq.weight takes the v1 scale; io.weight needs converting. */
    bool bfq = h->v2 ? knob_has(h, "io.bfq.weight") : !knob_has(h, "blkio.weight");
    const char *wfile =
        h->v2 ? (bfq ? "io.bfq.weight" : "io.weight") : (bfq ? "blkio.bfq.weight" : "blkio.weight");
    const char *wdfile = h->v2 ? wfile : (bfq ? "blkio.bfq.weight_device" : "blkio.weight_device");
    if (res->blkio_weight) {
        uint64_t w = h->v2 && !bfq ? blkio_to_io_weight(res->blkio_weight) : res->blkio_weight;
        if ((r = knob_write_u64(cg, h, RES ".blockIO.weight", wfile, w, err)) < 0) {
            return r;
        }
    }
    if (res->blkio_leaf_weight) {
        if (h->v2) {
            log_debug("cgroup: " RES ".blockIO.leafWeight has no cgroup v2 equivalent, ignored");
        } else if ((r = knob_write_u64(cg, h, RES ".blockIO.leafWeight", "blkio.leaf_weight",
                                       res->blkio_leaf_weight, err)) < 0) {
            return r;
        }
    }
    for (size_t i = 0; i < res->n_wdev; i++) {
        const struct weight_dev *d = &res->wdev[i];
        char field[96];
        snprintf(field, sizeof(field), RES ".blockIO.weightDevice[%zu]", i);
        if (d->weight) {
            uint64_t w = h->v2 && !bfq ? blkio_to_io_weight(d->weight) : d->weight;
            snprintf(val, sizeof(val), "%" PRId64 ":%" PRId64 " %" PRIu64, d->major, d->minor, w);
            if ((r = knob_write(cg, h, field, wdfile, val, err)) < 0) {
                return r;
            }
        }
        if (d->leaf_weight && !h->v2) {
            snprintf(val, sizeof(val), "%" PRId64 ":%" PRId64 " %" PRIu32, d->major, d->minor,
                     d->leaf_weight);
            if ((r = knob_write(cg, h, field, "blkio.leaf_weight_device", val, err)) < 0) {
                return r;
            }
        }
    }
    for (size_t k = 0; k < 4; k++) {
        for (size_t i = 0; i < res->n_thr[k]; i++) {
            const struct throttle *t = &res->thr[k][i];
            char field[96];
            snprintf(field, sizeof(field), RES ".blockIO.%s[%zu]", throttle_kinds[k].key, i);
            if (!h->v2) {
                snprintf(val, sizeof(val), "%" PRId64 ":%" PRId64 " %" PRIu64, t->major, t->minor,
                         t->rate);
                r = knob_write(cg, h, field, throttle_kinds[k].v1, val, err);
            } else if (t->rate == 0) {
                /* 0 lifts the limit on v1; on v2 it would stop all I/O. */
                snprintf(val, sizeof(val), "%" PRId64 ":%" PRId64 " %s=max", t->major, t->minor,
                         throttle_kinds[k].v2);
                r = knob_write(cg, h, field, "io.max", val, err);
            } else {
                snprintf(val, sizeof(val), "%" PRId64 ":%" PRId64 " %s=%" PRIu64, t->major,
                         t->minor, throttle_kinds[k].v2, t->rate);
                r = knob_write(cg, h, field, "io.max", val, err);
            }
            if (r < 0) {
                return r;
            }
        }
    }
    return 0;
}

static int apply_hugetlb(struct cgroup *cg, const struct hier *h, const struct res *res,
                         struct berth_error **err)
{
    for (size_t i = 0; i < res->n_huge; i++) {
        const struct hugepage *hp = &res->huge[i];
        char field[64];
        snprintf(field, sizeof(field), RES ".hugepageLimits[%zu]", i);
        _cleanup_free_ char *file =
            xasprintf(h->v2 ? "hugetlb.%s.max" : "hugetlb.%s.limit_in_bytes", hp->size);
        _cleanup_free_ char *rsvd =
            xasprintf(h->v2 ? "hugetlb.%s.rsvd.max" : "hugetlb.%s.rsvd.limit_in_bytes", hp->size);
        if (!knob_has(h, file)) {
            if (h->v2 && !dir_has_controller(h->dir, "hugetlb")) {
                return berth_error_set(err, EOPNOTSUPP,
                                       "%s: controller 'hugetlb' is not enabled for this cgroup",
                                       field);
            }
            return berth_error_set(err, EINVAL,
                                   "%s.pageSize: page size '%s' is not supported on this host "
                                   "(no '%s')",
                                   field, hp->size, file);
        }
        int r = knob_write_u64(cg, h, field, file, hp->limit, err);
        /* Reservation accounting (5.11) limits at mmap time, so tasks do
         * not die of SIGBUS at fault time: set it where the kernel has it. */
        if (r == 0 && knob_has(h, rsvd)) {
            r = knob_write_u64(cg, h, field, rsvd, hp->limit, err);
        }
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

static void dev_rule_v1(const struct dev_rule *d, char *buf, size_t len)
{
    if (d->type == 'a') {
        snprintf(buf, len, "a");
        return;
    }
    char maj[24] = "*", min[24] = "*", acc[4];
    size_t n = 0;
    if (d->major >= 0) {
        snprintf(maj, sizeof(maj), "%" PRId64, d->major);
    }
    if (d->minor >= 0) {
        snprintf(min, sizeof(min), "%" PRId64, d->minor);
    }
    if (d->access & BPF_DEVCG_ACC_READ) {
        acc[n++] = 'r';
    }
    if (d->access & BPF_DEVCG_ACC_WRITE) {
        acc[n++] = 'w';
    }
    if (d->access & BPF_DEVCG_ACC_MKNOD) {
        acc[n++] = 'm';
    }
    acc[n] = '\0';
    snprintf(buf, len, "%c %s:%s %s", d->type, maj, min, acc);
}

/* v1: start from "deny everything", then each rule adds (allow) or removes
 * (deny) its exception, in order. The kernel refuses "a" writes on a cgroup
 * with children, so an update of a nested container's devices fails. */
/* Whether rule i repeats an earlier rule with nothing of the other kind in
 * between (Docker's default rules and the runtime's own overlap): writing
 * it again changes nothing. */
static bool dev_rule_repeats(const struct res *res, size_t i)
{
    const struct dev_rule *d = &res->dev[i];
    for (size_t j = i; j-- > 0;) {
        const struct dev_rule *e = &res->dev[j];
        if (e->allow != d->allow) {
            return false;
        }
        if (e->type == d->type && e->major == d->major && e->minor == d->minor &&
            e->access == d->access) {
            return true;
        }
    }
    return false;
}

/* One device rule written to an already open devices.allow or .deny (the
 * kernel takes one rule per write), or through knob_write when the file
 * could not be kept open (or a test intercepts writes). */
static int dev_write(struct cgroup *cg, const struct hier *h, int fd, const char *field,
                     const char *file, const char *line, struct berth_error **err)
{
    if (fd < 0) {
        return knob_write(cg, h, field, file, line, err);
    }
    size_t len = strlen(line);
    ssize_t n = RETRY_EINTR(write(fd, line, len));
    if (n >= 0 && (size_t)n == len) {
        log_debug("cgroup: write '%s/%s' = '%s'", h->dir, file, line);
        return 0;
    }
    return berth_error_sys(err, n < 0 ? errno : EIO, "%s: write '%s' = '%s'", field, file, line);
}

static int apply_devices_v1(struct cgroup *cg, const struct hier *h, const struct res *res,
                            struct berth_error **err)
{
    size_t n_user = res->n_dev - ARRAY_SIZE(default_rules);
    /* Each file opened once for all the rules: reopening the cgroup's
     * six-component path for each of 14 rules showed in every create. */
    _cleanup_close_ int allow = -1, deny = -1;
    if (!cg->sys.write_hook) {
        _cleanup_close_ int dfd = open(h->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        allow = dfd < 0 ? -1 : openat(dfd, "devices.allow", O_WRONLY | O_CLOEXEC | O_NOCTTY);
        deny = dfd < 0 ? -1 : openat(dfd, "devices.deny", O_WRONLY | O_CLOEXEC | O_NOCTTY);
    }
    int r = dev_write(cg, h, deny, RES ".devices", "devices.deny", "a", err);
    for (size_t i = 0; r == 0 && i < res->n_dev; i++) {
        if (dev_rule_repeats(res, i)) {
            continue;
        }
        char line[64], field[64];
        dev_rule_v1(&res->dev[i], line, sizeof(line));
        if (i < n_user) {
            snprintf(field, sizeof(field), RES ".devices[%zu]", i);
        } else {
            snprintf(field, sizeof(field), RES ".devices (default rule)");
        }
        bool a = res->dev[i].allow;
        r = dev_write(cg, h, a ? allow : deny, field, a ? "devices.allow" : "devices.deny", line,
                      err);
    }
    return r;
}

static int apply_devices_v2(struct cgroup *cg, const struct hier *h, const struct res *res,
                            struct berth_error **err)
{
    _cleanup_free_ struct bpf_insn *insns = NULL;
    size_t n = 0;
    compile_rules(res->dev, res->n_dev, &insns, &n);
    if (cg->sys.bpf_hook) {
        int r = cg->sys.bpf_hook(cg->sys.userdata, h->dir, insns, n);
        return r < 0 ? berth_error_sys(err, -r, RES ".devices: attach device filter") : 0;
    }
    _cleanup_close_ int prog = -1;
    int r = cgroup_bpf_load_devices(insns, n, &prog, err);
    if (r == 0) {
        r = bpf_attach_devices(h->dir, prog, err);
    }
    return r < 0 ? berth_error_prefix(err, RES ".devices") : 0;
}

static int apply_misc(struct cgroup *cg, const struct res *res, struct berth_error **err)
{
    char val[128], field[128];
    int r;
    if (res->has_classid && (r = knob_write_u64(cg, hier_of(cg, C_NET_CLS), RES ".network.classID",
                                                "net_cls.classid", res->classid, err)) < 0) {
        return r;
    }
    for (size_t i = 0; i < res->n_prios; i++) {
        snprintf(field, sizeof(field), RES ".network.priorities[%zu]", i);
        snprintf(val, sizeof(val), "%s %" PRIu32, res->prios[i].name, res->prios[i].prio);
        if ((r = knob_write(cg, hier_of(cg, C_NET_PRIO), field, "net_prio.ifpriomap", val, err)) <
            0) {
            return r;
        }
    }
    for (size_t i = 0; i < res->n_rdma; i++) {
        const struct rdma_limit *l = &res->rdma[i];
        struct strbuf sb = STRBUF_INIT;
        strbuf_adds(&sb, l->dev);
        if (l->has_handles) {
            strbuf_addf(&sb, " hca_handle=%" PRIu32, l->handles);
        }
        if (l->has_objects) {
            strbuf_addf(&sb, " hca_object=%" PRIu32, l->objects);
        }
        snprintf(field, sizeof(field), RES ".rdma.%s", l->dev);
        r = knob_write(cg, hier_of(cg, C_RDMA), field, "rdma.max", strbuf_str(&sb), err);
        strbuf_release(&sb);
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

int cgroup_apply_resources(struct cgroup *cg, json_t *resources, struct berth_error **err)
{
    _cleanup_(res_release) struct res res = {0};
    int r = res_parse(resources, cg->created, &res, err);
    if (r < 0 || (r = res_check(cg, &res, err)) < 0) {
        return r;
    }
    const struct hier *h;
    if (res.has_devices) {
        if ((h = hier_of(cg, C_DEVICES))) {
            r = h->v2 ? apply_devices_v2(cg, h, &res, err) : apply_devices_v1(cg, h, &res, err);
            if (r < 0) {
                return r;
            }
        } else {
            log_debug("cgroup: no devices controller, default device rules not applied");
        }
    }
    if ((res.cpus || res.mems) && (r = apply_cpuset(cg, hier_of(cg, C_CPUSET), &res, err)) < 0) {
        return r;
    }
    if (res.has_memory) {
        h = hier_of(cg, C_MEMORY);
        if ((r = h->v2 ? apply_memory_v2(cg, h, &res, err) : apply_memory_v1(cg, h, &res, err)) <
            0) {
            return r;
        }
    }
    if (res.has_cpu_ctrl) {
        h = hier_of(cg, C_CPU);
        if ((r = h->v2 ? apply_cpu_v2(cg, h, &res, err) : apply_cpu_v1(cg, h, &res, err)) < 0) {
            return r;
        }
    }
    if (res.has_pids && (r = knob_write_max(cg, hier_of(cg, C_PIDS), RES ".pids.limit", "pids.max",
                                            res.pids_limit, err)) < 0) {
        return r;
    }
    if (res.has_blkio && (r = apply_blkio(cg, hier_of(cg, C_BLKIO), &res, err)) < 0) {
        return r;
    }
    if (res.n_huge && (r = apply_hugetlb(cg, hier_of(cg, C_HUGETLB), &res, err)) < 0) {
        return r;
    }
    if ((r = apply_misc(cg, &res, err)) < 0) {
        return r;
    }
    /* Raw cgroup2 keys go last, so they override what berth derived. */
    for (size_t i = 0; i < res.n_unified; i++) {
        _cleanup_free_ char *field = xasprintf(RES ".unified.%s", res.unified[i].key);
        const struct hier *u = &cg->h[cg->unified];
        if ((r = dir_write(cg, u->dir, true, field, res.unified[i].key, res.unified[i].value,
                           err)) < 0) {
            return r;
        }
    }
    return 0;
}

/* ---- processes ------------------------------------------------------------ */

int cgroup_add_pid(struct cgroup *cg, pid_t pid, struct berth_error **err)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%d", (int)pid);
    for (size_t i = 0; i < cg->n; i++) {
        int r = knob_write(cg, &cg->h[i], NULL, "cgroup.procs", buf, err);
        if (r < 0) {
            return berth_error_prefix(err, "add pid %d to cgroup '%s' in '%s'", (int)pid,
                                      cg->h[i].path, cg->h[i].label);
        }
    }
    return 0;
}

int cgroup_entry_open(struct cgroup *cg, struct cgroup_entry *ret, struct berth_error **err)
{
    struct cgroup_entry e = {.v2_fd = -1};
    for (size_t i = 0; i < cg->n; i++) {
        const struct hier *h = &cg->h[i];
        if (h->v2) {
            e.v2_fd = open(h->dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
            if (e.v2_fd < 0) {
                int r = berth_error_sys(err, errno, "open cgroup '%s'", h->dir);
                cgroup_entry_close(&e);
                return r;
            }
            continue;
        }
        if (e.n_tasks >= ARRAY_SIZE(e.tasks_fds)) {
            cgroup_entry_close(&e);
            return berth_error_set(err, E2BIG, "too many cgroup hierarchies");
        }
        _cleanup_free_ char *p = xasprintf("%s/tasks", h->dir);
        int fd = open(p, O_WRONLY | O_CLOEXEC);
        if (fd < 0) {
            int r = berth_error_sys(err, errno, "open '%s'", p);
            cgroup_entry_close(&e);
            return r;
        }
        e.tasks_fds[e.n_tasks++] = fd;
    }
    *ret = e;
    return 0;
}

int cgroup_entry_enter_self(const struct cgroup_entry *e)
{
    for (size_t i = 0; i < e->n_tasks; i++) {
        if (write(e->tasks_fds[i], "0", 1) != 1) {
            return -errno;
        }
    }
    return 0;
}

void cgroup_entry_close(struct cgroup_entry *e)
{
    if (e->v2_fd >= 0) {
        close(e->v2_fd);
    }
    for (size_t i = 0; i < e->n_tasks; i++) {
        close(e->tasks_fds[i]);
    }
    e->v2_fd = -1;
    e->n_tasks = 0;
}

/* v1 freezer: FREEZING means some task was not caught yet. Older kernels
 * needed the write repeated to make progress, and tasks that keep forking
 * can hold it there, so keep re-writing FROZEN with an occasional short
 * thaw (runc's empirical remedy), for at most two seconds. */
static int freeze_v1(struct cgroup *cg, const struct hier *h, bool frozen, struct berth_error **err)
{
    const char *want = frozen ? "FROZEN" : "THAWED";
    uint64_t deadline = now_usec() + 2000000u;
    for (unsigned i = 0;; i++) {
        if (frozen && i % 50 == 49) {
            (void)knob_write(cg, h, NULL, "freezer.state", "THAWED", NULL);
            sleep_usec(10000);
        }
        int r = knob_write(cg, h, NULL, "freezer.state", want, err);
        if (r < 0) {
            return r;
        }
        _cleanup_free_ char *state = NULL;
        if ((r = knob_read(h, "freezer.state", &state, err)) < 0) {
            return r;
        }
        const char *s = trim(state);
        if (streq(s, want)) {
            return 0;
        }
        if (!streq(s, "FREEZING")) {
            return berth_error_set(err, EIO, "'freezer.state' reads '%.32s' after writing '%s'", s,
                                   want);
        }
        if (now_usec() > deadline) {
            break;
        }
        sleep_usec(i < 10 ? 100 : 1000);
    }
    /* Half-frozen is the worst state to leave a container in. */
    (void)knob_write(cg, h, NULL, "freezer.state", "THAWED", NULL);
    return berth_error_set(err, EBUSY, "cgroup stayed in 'FREEZING'; thawed it again");
}

/* "frozen 0|1" of cgroup.events. */
static int v2_frozen(const struct hier *h, bool *ret, struct berth_error **err)
{
    _cleanup_free_ char *text = NULL;
    int r = knob_read(h, "cgroup.events", &text, err);
    if (r < 0) {
        return r;
    }
    _cleanup_strv_free_ char **lines = strv_split(text, "\n");
    for (size_t i = 0; lines[i]; i++) {
        if (strneq(lines[i], "frozen ", 7)) {
            *ret = streq(trim(lines[i] + 7), "1");
            return 0;
        }
    }
    return berth_error_set(err, EIO, "'cgroup.events' has no 'frozen' line");
}

static int freeze_v2(struct cgroup *cg, const struct hier *h, bool frozen, struct berth_error **err)
{
    if (!knob_has(h, "cgroup.freeze")) {
        return berth_error_set(err, EOPNOTSUPP, "no cgroup v2 freezer (no 'cgroup.freeze')");
    }
    int r = knob_write(cg, h, NULL, "cgroup.freeze", frozen ? "1" : "0", err);
    if (r < 0) {
        return r;
    }
    /* The kernel freezes asynchronously: cgroup.events says when it is done
     * (a task in uninterruptible sleep can delay it). */
    uint64_t deadline = now_usec() + 5000000u;
    for (unsigned i = 0;; i++) {
        bool now = !frozen;
        if ((r = v2_frozen(h, &now, err)) < 0) {
            return r;
        }
        if (now == frozen) {
            return 0;
        }
        if (now_usec() > deadline) {
            break;
        }
        sleep_usec(i < 10 ? 200 : 2000);
    }
    if (frozen) {
        (void)knob_write(cg, h, NULL, "cgroup.freeze", "0", NULL);
    }
    return berth_error_set(err, ETIMEDOUT, "timed out waiting for 'cgroup.events' to say frozen %d",
                           frozen);
}

int cgroup_freeze(struct cgroup *cg, bool frozen, struct berth_error **err)
{
    const char *what = frozen ? "freeze" : "thaw";
    const struct hier *h = hier_of(cg, C_FREEZER);
    if (!h) {
        return berth_error_set(err, EOPNOTSUPP, "%s cgroup '%s': no freezer on this host", what,
                               cg->path);
    }
    int r = h->v2 ? freeze_v2(cg, h, frozen, err) : freeze_v1(cg, h, frozen, err);
    if (r < 0) {
        return berth_error_prefix(err, "%s cgroup '%s'", what, h->path);
    }
    return 0;
}

int cgroup_is_frozen(struct cgroup *cg, bool *ret, struct berth_error **err)
{
    const struct hier *h = hier_of(cg, C_FREEZER);
    if (!h) {
        return berth_error_set(err, EOPNOTSUPP, "cgroup '%s': no freezer on this host", cg->path);
    }
    if (h->v2) {
        return v2_frozen(h, ret, err);
    }
    _cleanup_free_ char *state = NULL;
    int r = knob_read(h, "freezer.state", &state, err);
    if (r < 0) {
        return r;
    }
    *ret = streq(trim(state), "FROZEN");
    return 0;
}

static int collect_pids(const char *dir, int depth, pid_t **v, size_t *n, size_t *alloc,
                        struct berth_error **err)
{
    if (depth > TREE_DEPTH_MAX) {
        return berth_error_set(err, ELOOP, "cgroup tree deeper than %d levels", TREE_DEPTH_MAX);
    }
    _cleanup_free_ char *p = xasprintf("%s/cgroup.procs", dir);
    _cleanup_free_ char *text = NULL;
    int r = read_file_at(AT_FDCWD, p, PROCS_MAX, &text, NULL, NULL);
    if (r == -ENOENT && depth > 0) {
        return 0; /* a child cgroup removed while we walk */
    }
    if (r < 0) {
        return berth_error_sys(err, -r, "read '%s'", p);
    }
    _cleanup_strv_free_ char **lines = strv_split(text, "\n");
    for (size_t i = 0; lines[i]; i++) {
        int pid;
        if (!*trim(lines[i])) {
            continue;
        }
        if (parse_int(trim(lines[i]), &pid) < 0 || pid <= 0) {
            return berth_error_set(err, EIO, "'%s': unexpected line '%.32s'", p, lines[i]);
        }
        *v = xgrow(*v, sizeof(pid_t), *n, alloc);
        (*v)[(*n)++] = pid;
    }
    DIR *d = opendir(dir);
    if (!d) {
        return errno == ENOENT ? 0 : berth_error_sys(err, errno, "opendir '%s'", dir);
    }
    struct dirent *de;
    r = 0;
    while (r == 0 && (de = readdir(d))) {
        struct stat st;
        if (streq(de->d_name, ".") || streq(de->d_name, "..") ||
            (de->d_type != DT_DIR && (de->d_type != DT_UNKNOWN ||
                                      fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
                                      !S_ISDIR(st.st_mode)))) {
            continue;
        }
        _cleanup_free_ char *child = xasprintf("%s/%s", dir, de->d_name);
        r = collect_pids(child, depth + 1, v, n, alloc, err);
    }
    closedir(d);
    return r;
}

static int cmp_pid(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

/* The hierarchy that lists the container's processes best: pids (made for
 * it), else memory, else cgroup2, else any. */
static const struct hier *procs_hier(const struct cgroup *cg)
{
    if (cg->map[C_PIDS] >= 0) {
        return &cg->h[cg->map[C_PIDS]];
    }
    if (cg->map[C_MEMORY] >= 0) {
        return &cg->h[cg->map[C_MEMORY]];
    }
    return &cg->h[cg->unified >= 0 ? cg->unified : 0];
}

int cgroup_get_pids(struct cgroup *cg, pid_t **ret, size_t *ret_n, struct berth_error **err)
{
    const struct hier *h = procs_hier(cg);
    _cleanup_free_ pid_t *v = NULL;
    size_t n = 0, alloc = 0;
    int r = collect_pids(h->dir, 0, &v, &n, &alloc, err);
    if (r < 0) {
        return berth_error_prefix(err, "list processes of cgroup '%s'", h->path);
    }
    if (!v) {
        v = xcalloc(1, sizeof(pid_t));
    }
    qsort(v, n, sizeof(pid_t), cmp_pid);
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        if (m == 0 || v[m - 1] != v[i]) {
            v[m++] = v[i];
        }
    }
    *ret = TAKE_PTR(v);
    *ret_n = m;
    return 0;
}

int cgroup_kill_all(struct cgroup *cg, int sig, struct berth_error **err)
{
    int r;
    if (sig == SIGKILL && cg->unified >= 0 && knob_has(&cg->h[cg->unified], "cgroup.kill")) {
        /* cgroup.kill (5.14) kills the whole subtree in the kernel, tasks
         * forked meanwhile included. On a hybrid host the container's
         * tasks are in the cgroup2 directory too (cgroup_add_pid). */
        r = knob_write(cg, &cg->h[cg->unified], NULL, "cgroup.kill", "1", err);
        return r < 0 ? berth_error_prefix(err, "kill cgroup '%s'", cg->path) : 0;
    }
    /* Frozen, no task can fork a child we would miss between reading the
     * list and signalling it. Without a freezer we do our best unfrozen. */
    bool frozen = false;
    if (hier_of(cg, C_FREEZER)) {
        _cleanup_error_ struct berth_error *e = NULL;
        if (cgroup_freeze(cg, true, &e) == 0) {
            frozen = true;
        } else {
            log_debug("cgroup: kill without freezing: %s", e->msg);
        }
    }
    _cleanup_free_ pid_t *pids = NULL;
    size_t n = 0;
    r = cgroup_get_pids(cg, &pids, &n, err);
    for (size_t i = 0; r == 0 && i < n; i++) {
        if (kill(pids[i], sig) < 0 && errno != ESRCH) {
            r = berth_error_sys(err, errno, "kill pid %d", (int)pids[i]);
        }
    }
    if (frozen) {
        /* A signal to a frozen task is delivered when it thaws. */
        int q = cgroup_freeze(cg, false, err);
        r = r < 0 ? r : q;
    }
    return r;
}

/* ---- statistics ------------------------------------------------------------ */

/* The number after "key " on some line of a "key value" file. */
static bool stat_value(const char *text, const char *key, uint64_t *ret)
{
    size_t kl = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL) {
        if (strneq(p, key, kl) && p[kl] == ' ') {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(p + kl + 1, &end, 10);
            if (errno == 0 && end != p + kl + 1) {
                *ret = v;
                return true;
            }
        }
    }
    return false;
}

/* A stats knob: the text, or NULL if this kernel has no such file. */
static int stat_read(const struct hier *h, const char *file, char **ret, struct berth_error **err)
{
    _cleanup_free_ char *p = xasprintf("%s/%s", h->dir, file);
    int r = read_file_at(AT_FDCWD, p, KNOB_MAX, ret, NULL, NULL);
    if (r == -ENOENT) {
        *ret = NULL;
        return 0;
    }
    return r < 0 ? berth_error_sys(err, -r, "read '%s'", file) : 0;
}

/* A single-number knob; "max" is max_means; a missing file leaves *ret. */
static int stat_u64(const struct hier *h, const char *file, uint64_t max_means, uint64_t *ret,
                    struct berth_error **err)
{
    _cleanup_free_ char *text = NULL;
    int r = stat_read(h, file, &text, err);
    if (r < 0 || !text) {
        return r;
    }
    char *v = trim(text);
    if (streq(v, "max")) {
        *ret = max_means;
    } else if (parse_uint64(v, ret) < 0) {
        return berth_error_set(err, EIO, "read '%s': unexpected value '%.64s'", file, v);
    }
    return 0;
}

static int stat_key(const struct hier *h, const char *file, const char *key, uint64_t *ret,
                    struct berth_error **err)
{
    _cleanup_free_ char *text = NULL;
    int r = stat_read(h, file, &text, err);
    if (r == 0 && text) {
        (void)stat_value(text, key, ret);
    }
    return r;
}

static int memory_stats(const struct hier *h, struct cgroup_stats *st, struct berth_error **err)
{
    int r;
    if (h->v2) {
        if ((r = stat_u64(h, "memory.current", 0, &st->memory_usage, err)) < 0 ||
            (r = stat_u64(h, "memory.max", UINT64_MAX, &st->memory_limit, err)) < 0 ||
            (r = stat_u64(h, "memory.peak", 0, &st->memory_max_usage, err)) < 0 ||
            (r = stat_key(h, "memory.stat", "file", &st->memory_cache, err)) < 0 ||
            (r = stat_key(h, "memory.events", "oom_kill", &st->oom_kills, err)) < 0) {
            return r;
        }
        return 0;
    }
    _cleanup_free_ char *stat = NULL;
    if ((r = stat_u64(h, "memory.usage_in_bytes", 0, &st->memory_usage, err)) < 0 ||
        (r = stat_u64(h, "memory.limit_in_bytes", UINT64_MAX, &st->memory_limit, err)) < 0 ||
        (r = stat_u64(h, "memory.max_usage_in_bytes", 0, &st->memory_max_usage, err)) < 0 ||
        (r = stat_key(h, "memory.oom_control", "oom_kill", &st->oom_kills, err)) < 0 ||
        (r = stat_read(h, "memory.stat", &stat, err)) < 0) {
        return r;
    }
    if (stat && !stat_value(stat, "total_cache", &st->memory_cache)) {
        (void)stat_value(stat, "cache", &st->memory_cache);
    }
    return 0;
}

static int cpu_stats(const struct hier *h, struct cgroup_stats *st, struct berth_error **err)
{
    int r;
    if (h->v2) {
        _cleanup_free_ char *text = NULL;
        if ((r = stat_read(h, "cpu.stat", &text, err)) < 0 || !text) {
            return r;
        }
        uint64_t v;
        if (stat_value(text, "usage_usec", &v)) {
            st->cpu_usage_ns = v * 1000u;
        }
        if (stat_value(text, "user_usec", &v)) {
            st->cpu_user_ns = v * 1000u;
        }
        if (stat_value(text, "system_usec", &v)) {
            st->cpu_system_ns = v * 1000u;
        }
        return 0;
    }
    _cleanup_free_ char *text = NULL;
    if ((r = stat_u64(h, "cpuacct.usage", 0, &st->cpu_usage_ns, err)) < 0 ||
        (r = stat_read(h, "cpuacct.stat", &text, err)) < 0 || !text) {
        return r;
    }
    /* cpuacct.stat counts USER_HZ ticks. */
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t ns_per_tick = hz > 0 ? 1000000000u / (uint64_t)hz : 10000000u, v;
    if (stat_value(text, "user", &v)) {
        st->cpu_user_ns = v * ns_per_tick;
    }
    if (stat_value(text, "system", &v)) {
        st->cpu_system_ns = v * ns_per_tick;
    }
    return 0;
}

static int blkio_stats(const struct hier *h, struct cgroup_stats *st, struct berth_error **err)
{
    static const char *const v1_files[] = {
        "blkio.throttle.io_service_bytes_recursive",
        "blkio.io_service_bytes_recursive",
        "blkio.bfq.io_service_bytes_recursive",
    };
    _cleanup_free_ char *text = NULL;
    int r = 0;
    for (size_t i = 0; !h->v2 && i < ARRAY_SIZE(v1_files) && r == 0 && !text; i++) {
        r = stat_read(h, v1_files[i], &text, err);
    }
    if (h->v2) {
        r = stat_read(h, "io.stat", &text, err);
    }
    if (r < 0 || !text) {
        return r;
    }
    _cleanup_strv_free_ char **lines = strv_split(text, "\n");
    for (size_t i = 0; lines[i]; i++) {
        _cleanup_strv_free_ char **w = split_words(lines[i]);
        uint64_t v;
        if (h->v2) {
            /* "8:0 rbytes=1 wbytes=2 rios=3 ..." */
            for (size_t k = 1; w[0] && w[k]; k++) {
                if (strneq(w[k], "rbytes=", 7) && parse_uint64(w[k] + 7, &v) == 0) {
                    st->blkio_read_bytes += v;
                } else if (strneq(w[k], "wbytes=", 7) && parse_uint64(w[k] + 7, &v) == 0) {
                    st->blkio_write_bytes += v;
                }
            }
        } else if (strv_length(w) == 3 && parse_uint64(w[2], &v) == 0) {
            /* "8:0 Read 4096" */
            if (streq(w[1], "Read")) {
                st->blkio_read_bytes += v;
            } else if (streq(w[1], "Write")) {
                st->blkio_write_bytes += v;
            }
        }
    }
    return 0;
}

/* Best effort per knob (a kernel without memory.peak reports 0), but a
 * cgroup that no longer exists is an error. An unlimited memory limit reads
 * as UINT64_MAX, unlimited pids as 0 (as runc reports them). */
int cgroup_get_stats(struct cgroup *cg, struct cgroup_stats *ret, struct berth_error **err)
{
    struct cgroup_stats st = {0};
    const struct hier *h = procs_hier(cg);
    int r;
    if (access(h->dir, F_OK) < 0) {
        return berth_error_sys(err, errno, "stats of cgroup '%s'", h->path);
    }
    if (((h = hier_of(cg, C_MEMORY)) && (r = memory_stats(h, &st, err)) < 0) ||
        ((h = hier_of(cg, C_CPUACCT)) && (r = cpu_stats(h, &st, err)) < 0) ||
        ((h = hier_of(cg, C_PIDS)) &&
         ((r = stat_u64(h, "pids.current", 0, &st.pids_current, err)) < 0 ||
          (r = stat_u64(h, "pids.max", 0, &st.pids_limit, err)) < 0)) ||
        ((h = hier_of(cg, C_BLKIO)) && (r = blkio_stats(h, &st, err)) < 0)) {
        return berth_error_prefix(err, "stats of cgroup '%s'", cg->path);
    }
    *ret = st;
    return 0;
}
