/* test-cgroup.c - cgroup.c against a fake cgroupfs in a temp directory.
 *
 * A tiny fake kernel stands behind the files (cgroup-internal.h hooks): it
 * populates new cgroup directories with the knobs of their controllers,
 * appends to cgroup.subtree_control, updates cgroup.events on cgroup.freeze,
 * and can refuse chosen writes with an errno. Every knob write is logged as
 * "<path below /sys/fs/cgroup>=<value>" so tests check values and order.
 * No root needed; the real /sys/fs/cgroup is never touched.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "libberth/common/json-util.h"
#include "libberth/runtime/cgroup-internal.h"
#include "libberth/runtime/cgroup.h"

#define CG "/sys/fs/cgroup"

/* ---- layouts ----------------------------------------------------------- */

/* Pure v1, cpu and cpuacct co-mounted, a bind mount of memory elsewhere
 * (same superblock: must be ignored), optional fields before "-". */
static const char mi_v1[] =
    "25 20 0:22 / /sys/fs/cgroup rw,nosuid shared:8 - tmpfs tmpfs ro,mode=755\n"
    "26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid shared:9 - cgroup cgroup "
    "rw,xattr,release_agent=/lib/systemd/systemd-cgroups-agent,name=systemd\n"
    "27 25 0:24 / /sys/fs/cgroup/cpu,cpuacct rw shared:10 - cgroup cgroup rw,cpu,cpuacct\n"
    "28 25 0:25 / /sys/fs/cgroup/memory rw shared:11 - cgroup cgroup rw,memory\n"
    "29 25 0:26 / /sys/fs/cgroup/pids rw - cgroup cgroup rw,pids\n"
    "30 25 0:27 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset,clone_children\n"
    "31 25 0:28 / /sys/fs/cgroup/devices rw - cgroup cgroup rw,devices\n"
    "32 25 0:29 / /sys/fs/cgroup/freezer rw - cgroup cgroup rw,freezer\n"
    "33 25 0:30 / /sys/fs/cgroup/blkio rw - cgroup cgroup rw,blkio\n"
    "34 25 0:31 / /sys/fs/cgroup/net_cls,net_prio rw - cgroup cgroup rw,net_cls,net_prio\n"
    "35 25 0:32 / /sys/fs/cgroup/hugetlb rw - cgroup cgroup rw,hugetlb\n"
    "60 40 0:25 / /mnt/mem\\040copy rw - cgroup cgroup rw,memory\n"
    "61 40 0:50 / /proc rw - proc proc rw\n";

static const char self_v1[] = "11:hugetlb:/\n10:net_cls,net_prio:/\n9:blkio:/\n8:freezer:/\n"
                              "7:devices:/\n6:cpuset:/\n5:pids:/\n4:memory:/user/me\n"
                              "3:cpu,cpuacct:/\n1:name=systemd:/user/me\n0::/\n";

/* This machine: separate cpu and cpuacct, no hugetlb/net_* v1 mounts, a
 * cgroup2 at unified whose only controller is hugetlb. */
static const char mi_hybrid[] =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct\n"
    "34 31 0:31 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "36 31 0:33 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices\n"
    "37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer\n"
    "38 31 0:35 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

static const char self_hybrid[] = "9:name=systemd:/\n8:pids:/\n7:blkio:/\n6:freezer:/\n"
                                  "5:devices:/\n4:memory:/process_api/d479\n3:cpuset:/\n"
                                  "2:cpuacct:/\n1:cpu:/\n0::/\n";

static const char mi_unified[] =
    "30 25 0:26 / /sys/fs/cgroup rw,nosuid shared:4 - cgroup2 cgroup2 rw,nsdelegate\n";

static const char self_unified[] = "0::/user.slice/session-1.scope\n";

enum layout { V1, HYBRID, UNIFIED };

/* ---- the fake kernel -------------------------------------------------------- */

struct fake {
    char root[256];
    enum layout layout;
    struct strbuf log;
    const char *fail_suffix;    /* refuse writes to paths ending so ... */
    int fail_errno;             /* ... with this errno ... */
    int fail_count;             /* ... this many times */
    const char *rewrite_suffix; /* the kernel stores rewrite_value instead (a clamp) */
    const char *rewrite_value;
    int freezing_left; /* v1: FROZEN writes that leave the cgroup FREEZING */
    bool cgroup_kill;  /* cgroup2 directories get cgroup.kill */
    struct bpf_insn *prog;
    size_t prog_n;
    int bpf_calls;
};

static void put(const char *path, const char *content)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(write_all(fd, content, strlen(content)), 0);
    close(fd);
}

static void putf(struct fake *f, const char *rel, const char *content)
{
    _cleanup_free_ char *p = xasprintf("%s%s", f->root, rel);
    put(p, content);
}

static char *get(struct fake *f, const char *rel)
{
    _cleanup_free_ char *p = xasprintf("%s%s", f->root, rel);
    char *text = NULL;
    if (read_file_at(AT_FDCWD, p, 1 << 20, &text, NULL, NULL) < 0) {
        return NULL;
    }
    size_t n = strlen(text);
    while (n > 0 && text[n - 1] == '\n') {
        text[--n] = '\0';
    }
    return text;
}

#define assert_file(f, rel, want)                                                                  \
    do {                                                                                           \
        _cleanup_free_ char *got_ = get((f), (rel));                                               \
        assert_non_null(got_);                                                                     \
        assert_string_equal(got_, (want));                                                         \
    } while (0)

static bool exists(struct fake *f, const char *rel)
{
    _cleanup_free_ char *p = xasprintf("%s%s", f->root, rel);
    return access(p, F_OK) == 0;
}

static void mkdirf(struct fake *f, const char *rel)
{
    _cleanup_free_ char *p = xasprintf("%s%s", f->root, rel);
    assert_int_equal(mkdir_p(p, 0755, NULL), 0);
}

/* Position of needle in the write log, -1 if absent. */
static long logpos(struct fake *f, const char *needle)
{
    const char *p = strstr(strbuf_str(&f->log), needle);
    return p ? p - strbuf_str(&f->log) : -1;
}

static size_t logcount(struct fake *f, const char *needle)
{
    size_t n = 0;
    for (const char *p = strbuf_str(&f->log); (p = strstr(p, needle)); p++) {
        n++;
    }
    return n;
}

static bool ends_with(const char *s, const char *suffix)
{
    size_t a = strlen(s), b = strlen(suffix);
    return a >= b && streq(s + a - b, suffix);
}

static void touch_all(const char *dir, const char *const *files)
{
    for (size_t i = 0; files[i]; i += 2) {
        _cleanup_free_ char *p = xasprintf("%s/%s", dir, files[i]);
        put(p, files[i + 1]);
    }
}

/* Knob files (name, initial content) per v1 controller. */
static void populate_v1(const char *dir, const char *ctrl)
{
    static const char *const memory[] = {"memory.limit_in_bytes",
                                         "9223372036854771712\n",
                                         "memory.memsw.limit_in_bytes",
                                         "9223372036854771712\n",
                                         "memory.soft_limit_in_bytes",
                                         "9223372036854771712\n",
                                         "memory.swappiness",
                                         "60\n",
                                         "memory.oom_control",
                                         "oom_kill_disable 0\nunder_oom 0\n",
                                         "memory.use_hierarchy",
                                         "1\n",
                                         "memory.kmem.tcp.limit_in_bytes",
                                         "9223372036854771712\n",
                                         "memory.usage_in_bytes",
                                         "0\n",
                                         "memory.max_usage_in_bytes",
                                         "0\n",
                                         "memory.stat",
                                         "cache 0\n",
                                         NULL};
    static const char *const cpu[] = {"cpu.shares",
                                      "1024\n",
                                      "cpu.cfs_period_us",
                                      "100000\n",
                                      "cpu.cfs_quota_us",
                                      "-1\n",
                                      "cpu.cfs_burst_us",
                                      "0\n",
                                      "cpu.rt_period_us",
                                      "1000000\n",
                                      "cpu.rt_runtime_us",
                                      "0\n",
                                      "cpu.idle",
                                      "0\n",
                                      NULL};
    static const char *const cpuacct[] = {"cpuacct.usage", "0\n", "cpuacct.stat",
                                          "user 0\nsystem 0\n", NULL};
    static const char *const cpuset[] = {"cpuset.cpus", "\n", "cpuset.mems", "\n", NULL};
    static const char *const devices[] = {"devices.allow", "",  "devices.deny", "", "devices.list",
                                          "a *:* rwm\n",   NULL};
    static const char *const freezer[] = {"freezer.state", "THAWED\n", NULL};
    static const char *const blkio[] = {"blkio.bfq.weight",
                                        "100\n",
                                        "blkio.bfq.weight_device",
                                        "",
                                        "blkio.throttle.read_bps_device",
                                        "",
                                        "blkio.throttle.write_bps_device",
                                        "",
                                        "blkio.throttle.read_iops_device",
                                        "",
                                        "blkio.throttle.write_iops_device",
                                        "",
                                        "blkio.throttle.io_service_bytes_recursive",
                                        "Total 0\n",
                                        NULL};
    static const char *const pids[] = {"pids.max", "max\n", "pids.current", "0\n", NULL};
    static const char *const net_cls[] = {"net_cls.classid", "0\n", NULL};
    static const char *const net_prio[] = {"net_prio.ifpriomap", "", NULL};
    static const char *const hugetlb[] = {"hugetlb.2MB.limit_in_bytes", "0\n",
                                          "hugetlb.1GB.limit_in_bytes", "0\n", NULL};
    static const struct {
        const char *name;
        const char *const *files;
    } table[] = {{"memory", memory},     {"cpu", cpu},         {"cpuacct", cpuacct},
                 {"cpuset", cpuset},     {"devices", devices}, {"freezer", freezer},
                 {"blkio", blkio},       {"pids", pids},       {"net_cls", net_cls},
                 {"net_prio", net_prio}, {"hugetlb", hugetlb}};
    for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
        if (streq(table[i].name, ctrl)) {
            touch_all(dir, table[i].files);
        }
    }
}

static void populate_v2(struct fake *f, const char *dir)
{
    static const char *const core[] = {"cgroup.max.descendants",
                                       "max\n",
                                       "cgroup.procs",
                                       "",
                                       "cgroup.subtree_control",
                                       "",
                                       "cgroup.freeze",
                                       "0\n",
                                       "cgroup.events",
                                       "populated 0\nfrozen 0\n",
                                       "cpu.stat",
                                       "usage_usec 0\nuser_usec 0\nsystem_usec 0\n",
                                       NULL};
    static const char *const memory[] = {
        "memory.max",  "max\n",    "memory.swap.max", "max\n",
        "memory.low",  "0\n",      "memory.current",  "0\n",
        "memory.stat", "file 0\n", "memory.events",   "oom_kill 0\n",
        NULL};
    static const char *const cpu[] = {"cpu.weight",   "100\n",         "cpu.max",
                                      "max 100000\n", "cpu.max.burst", "0\n",
                                      "cpu.idle",     "0\n",           NULL};
    static const char *const io[] = {"io.weight", "default 100\n", "io.max", "", "io.stat", "",
                                     NULL};
    static const char *const pids[] = {"pids.max", "max\n", "pids.current", "0\n", NULL};
    static const char *const cpuset[] = {"cpuset.cpus", "\n", "cpuset.mems", "\n", NULL};
    static const char *const rdma[] = {"rdma.max", "", NULL};
    static const char *const hugetlb[] = {"hugetlb.2MB.max",
                                          "max\n",
                                          "hugetlb.1GB.max",
                                          "max\n",
                                          "hugetlb.2MB.rsvd.max",
                                          "max\n",
                                          "hugetlb.1GB.rsvd.max",
                                          "max\n",
                                          NULL};
    touch_all(dir, core);
    if (f->cgroup_kill) {
        _cleanup_free_ char *p = xasprintf("%s/cgroup.kill", dir);
        put(p, "");
    }
    _cleanup_free_ char *parent = xstrndup(dir, (size_t)(strrchr(dir, '/') - dir));
    _cleanup_free_ char *pp = xasprintf("%s/cgroup.subtree_control", parent);
    _cleanup_free_ char *on = NULL;
    assert_int_equal(read_file_at(AT_FDCWD, pp, 1 << 20, &on, NULL, NULL), 0);
    _cleanup_free_ char *cp = xasprintf("%s/cgroup.controllers", dir);
    put(cp, on);
    _cleanup_strv_free_ char **words = strv_split(on, " ");
    for (size_t i = 0; words[i]; i++) {
        char *w = words[i];
        w[strcspn(w, "\n")] = '\0';
        const char *const *files = streq(w, "memory")    ? memory
                                   : streq(w, "cpu")     ? cpu
                                   : streq(w, "io")      ? io
                                   : streq(w, "pids")    ? pids
                                   : streq(w, "cpuset")  ? cpuset
                                   : streq(w, "hugetlb") ? hugetlb
                                   : streq(w, "rdma")    ? rdma
                                                         : NULL;
        if (files) {
            touch_all(dir, files);
        }
    }
}

static const char *unified_mnt(const struct fake *f)
{
    return f->layout == UNIFIED ? CG : f->layout == HYBRID ? CG "/unified" : NULL;
}

static void fake_mkdir(void *userdata, const char *dir)
{
    struct fake *f = userdata;
    const char *rel = dir + strlen(f->root);
    const char *u = unified_mnt(f);
    if (u && strneq(rel, u, strlen(u)) && rel[strlen(u)] == '/') {
        populate_v2(f, dir);
        return;
    }
    assert_true(strneq(rel, CG "/", strlen(CG "/")));
    _cleanup_free_ char *hier = xstrndup(rel + strlen(CG "/"), strcspn(rel + strlen(CG "/"), "/"));
    _cleanup_strv_free_ char **ctrls = strv_split(hier, ",");
    for (size_t i = 0; ctrls[i]; i++) {
        populate_v1(dir, ctrls[i]);
    }
    _cleanup_free_ char *procs = xasprintf("%s/cgroup.procs", dir);
    put(procs, "");
}

static int fake_write(void *userdata, const char *path, const char *value)
{
    struct fake *f = userdata;
    const char *rel = path + strlen(f->root) + strlen(CG);
    if (f->fail_suffix && f->fail_count > 0 && ends_with(path, f->fail_suffix)) {
        f->fail_count--;
        strbuf_addf(&f->log, "!%s=%s\n", rel, value);
        return -f->fail_errno;
    }
    strbuf_addf(&f->log, "%s=%s\n", rel, value);
    if (f->rewrite_suffix && ends_with(path, f->rewrite_suffix)) {
        put(path, f->rewrite_value);
        return 1;
    }
    if (ends_with(path, "/cgroup.subtree_control")) {
        _cleanup_free_ char *cur = NULL;
        assert_int_equal(read_file_at(AT_FDCWD, path, 1 << 20, &cur, NULL, NULL), 0);
        cur[strcspn(cur, "\n")] = '\0';
        _cleanup_free_ char *next =
            xasprintf("%s%s%s\n", cur, *cur ? " " : "", value[0] == '+' ? value + 1 : value);
        put(path, next);
        return 1;
    }
    if (ends_with(path, "/cgroup.freeze")) {
        _cleanup_free_ char *ev =
            xasprintf("%.*s/cgroup.events", (int)(strrchr(path, '/') - path), path);
        _cleanup_free_ char *text = xasprintf("populated 1\nfrozen %s\n", value);
        put(ev, text);
        return 0;
    }
    if (ends_with(path, "/freezer.state") && streq(value, "FROZEN") && f->freezing_left > 0) {
        f->freezing_left--;
        put(path, "FREEZING\n");
        return 1;
    }
    return 0;
}

static int fake_bpf(void *userdata, const char *dir, const struct bpf_insn *insns, size_t n)
{
    struct fake *f = userdata;
    free(f->prog);
    f->prog = xmalloc(n * sizeof(*insns));
    memcpy(f->prog, insns, n * sizeof(*insns));
    f->prog_n = n;
    f->bpf_calls++;
    return 0;
}

/* The mount points and root knobs a kernel would show. */
static void fake_layout(struct fake *f, enum layout layout)
{
    f->layout = layout;
    if (layout == V1) {
        static const char *const hiers[] = {"systemd",          "cpu,cpuacct", "memory",  "pids",
                                            "cpuset",           "devices",     "freezer", "blkio",
                                            "net_cls,net_prio", "hugetlb"};
        for (size_t i = 0; i < ARRAY_SIZE(hiers); i++) {
            _cleanup_free_ char *d = xasprintf(CG "/%s", hiers[i]);
            mkdirf(f, d);
        }
        mkdirf(f, CG "/memory/user/me");
        mkdirf(f, CG "/systemd/user/me");
        putf(f, CG "/cpuset/cpuset.cpus", "0-3\n");
        putf(f, CG "/cpuset/cpuset.mems", "0\n");
    } else if (layout == HYBRID) {
        static const char *const hiers[] = {"cpu",     "cpuacct", "cpuset", "memory",  "devices",
                                            "freezer", "blkio",   "pids",   "systemd", "unified"};
        for (size_t i = 0; i < ARRAY_SIZE(hiers); i++) {
            _cleanup_free_ char *d = xasprintf(CG "/%s", hiers[i]);
            mkdirf(f, d);
        }
        mkdirf(f, CG "/memory/process_api/d479");
        putf(f, CG "/cpuset/cpuset.cpus", "0-1\n");
        putf(f, CG "/cpuset/cpuset.mems", "0\n");
        putf(f, CG "/unified/cgroup.controllers", "hugetlb\n");
        putf(f, CG "/unified/cgroup.subtree_control", "");
    } else {
        mkdirf(f, CG);
        putf(f, CG "/cgroup.controllers", "cpuset cpu io memory hugetlb pids rdma misc\n");
        putf(f, CG "/cgroup.subtree_control", "");
    }
}

static int setup(void **state)
{
    struct fake *f = xcalloc(1, sizeof(*f));
    snprintf(f->root, sizeof(f->root), "/tmp/test-cgroup-XXXXXX");
    assert_non_null(mkdtemp(f->root));
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fake *f = *state;
    assert_int_equal(rm_rf_at(AT_FDCWD, f->root, NULL), 0);
    strbuf_release(&f->log);
    free(f->prog);
    free(f);
    return 0;
}

static struct cgroup_sys sys_for(struct fake *f)
{
    struct cgroup_sys sys = {
        .mountinfo = f->layout == V1       ? mi_v1
                     : f->layout == HYBRID ? mi_hybrid
                                           : mi_unified,
        .self_cgroup = f->layout == V1       ? self_v1
                       : f->layout == HYBRID ? self_hybrid
                                             : self_unified,
        .root = f->root,
        .plain_fs = true,
        .mkdir_hook = fake_mkdir,
        .write_hook = fake_write,
        .bpf_hook = fake_bpf,
        .userdata = f,
    };
    return sys;
}

static struct cgroup *open_cg(struct fake *f, const char *path, bool create)
{
    struct cgroup_sys sys = sys_for(f);
    struct cgroup *cg = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    int r = cgroup_new_sys(&sys, path, "c1", false, &cg, &err);
    if (r < 0) {
        fail_msg("cgroup_new_sys: %s", err->msg);
    }
    if (create && cgroup_create(cg, &err) < 0) {
        fail_msg("cgroup_create: %s", err->msg);
    }
    return cg;
}

static json_t *J(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    if (!j) {
        fail_msg("bad test JSON: %s", je.text);
    }
    return j;
}

/* Apply and expect success. */
static void apply_ok(struct cgroup *cg, const char *json)
{
    _cleanup_json_ json_t *j = J(json);
    _cleanup_error_ struct berth_error *err = NULL;
    if (cgroup_apply_resources(cg, j, &err) < 0) {
        fail_msg("apply %s: %s", json, err->msg);
    }
}

/* Apply and expect an error whose message starts with prefix. */
static void apply_fails(struct cgroup *cg, const char *json, const char *prefix)
{
    _cleanup_json_ json_t *j = J(json);
    _cleanup_error_ struct berth_error *err = NULL;
    assert_true(cgroup_apply_resources(cg, j, &err) < 0);
    assert_non_null(err);
    if (!strneq(err->msg, prefix, strlen(prefix))) {
        fail_msg("error '%s' does not start with '%s'", err->msg, prefix);
    }
}

/* ---- detection and paths ---------------------------------------------------- */

static void test_mode_detect(void **state)
{
    enum cgroup_mode m;
    _cleanup_error_ struct berth_error *err = NULL;
    assert_int_equal(cgroup_mode_from_mountinfo(mi_v1, &m, NULL), 0);
    assert_int_equal(m, CGROUP_MODE_LEGACY);
    assert_int_equal(cgroup_mode_from_mountinfo(mi_hybrid, &m, NULL), 0);
    assert_int_equal(m, CGROUP_MODE_HYBRID);
    assert_int_equal(cgroup_mode_from_mountinfo(mi_unified, &m, NULL), 0);
    assert_int_equal(m, CGROUP_MODE_UNIFIED);
    assert_int_equal(cgroup_mode_from_mountinfo("61 40 0:50 / /proc rw - proc proc rw\n", &m, &err),
                     -ENOENT);
    assert_string_equal(err->msg, "no cgroup filesystem is mounted");
}

static const char *path_of(struct fake *f, const char *p, const char *id, bool systemd,
                           const char *ctrl, char **errmsg)
{
    struct cgroup_sys sys = sys_for(f);
    static char out[512];
    struct cgroup *cg = NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    if (cgroup_new_sys(&sys, p, id, systemd, &cg, &err) < 0) {
        *errmsg = xstrdup(err->msg);
        return NULL;
    }
    const char *d = ctrl ? cgroup_dir_for(cg, ctrl) : cgroup_path(cg);
    snprintf(out, sizeof(out), "%s", d ? d + (ctrl ? strlen(f->root) : 0) : "(none)");
    cgroup_free(cg);
    return out;
}

static void test_paths(void **state)
{
    struct fake *f = *state;
    char *e = NULL;
    fake_layout(f, V1);
    assert_string_equal(path_of(f, "/berth/c1", "c1", false, NULL, &e), "/berth/c1");
    assert_string_equal(path_of(f, "//berth/./c1/", "c1", false, NULL, &e), "/berth/c1");
    assert_string_equal(path_of(f, "/berth/c1", "c1", false, "cpu", &e),
                        CG "/cpu,cpuacct/berth/c1");
    assert_string_equal(path_of(f, "/berth/c1", "c1", false, "name=systemd", &e),
                        CG "/systemd/berth/c1");
    /* The bind mount of memory elsewhere is the same hierarchy: ignored. */
    assert_string_equal(path_of(f, "/x", "c1", false, "memory", &e), CG "/memory/x");
    /* Relative: under our own cgroup. Ours differ between hierarchies here
     * (memory and name=systemd are nested): memory's is used everywhere, so
     * that the one saved path names the same cgroup in every hierarchy. */
    assert_string_equal(path_of(f, "berth/c1", "c1", false, "memory", &e),
                        CG "/memory/user/me/berth/c1");
    assert_string_equal(path_of(f, "berth/c1", "c1", false, "pids", &e),
                        CG "/pids/user/me/berth/c1");
    assert_string_equal(path_of(f, "berth/c1", "c1", false, NULL, &e), "/user/me/berth/c1");
    /* ... and given back, that path resolves to itself. */
    assert_string_equal(path_of(f, "/user/me/berth/c1", "c1", false, "pids", &e),
                        CG "/pids/user/me/berth/c1");
    /* Empty or NULL: "<id>" relative. */
    assert_string_equal(path_of(f, "", "abc", false, "pids", &e), CG "/pids/user/me/abc");
    assert_string_equal(path_of(f, NULL, "abc", false, "memory", &e), CG "/memory/user/me/abc");
    /* systemd driver naming. */
    assert_string_equal(path_of(f, "system.slice:berth:abc", "c1", true, NULL, &e),
                        "/system.slice/berth-abc.scope");
    assert_string_equal(path_of(f, "a-b.slice:p:n", "c1", true, NULL, &e),
                        "/a.slice/a-b.slice/p-n.scope");
    assert_string_equal(path_of(f, "a-b-c.slice:p:n", "c1", true, NULL, &e),
                        "/a.slice/a-b.slice/a-b-c.slice/p-n.scope");
    assert_string_equal(path_of(f, "-.slice:p:n", "c1", true, NULL, &e), "/p-n.scope");
    assert_string_equal(path_of(f, ":p:n", "c1", true, NULL, &e), "/system.slice/p-n.scope");
    assert_string_equal(path_of(f, "user.slice::n", "c1", true, NULL, &e), "/user.slice/n.scope");
    assert_string_equal(path_of(f, "user.slice:p:sub.slice", "c1", true, NULL, &e),
                        "/user.slice/sub.slice");
    assert_string_equal(path_of(f, NULL, "abc", true, "pids", &e),
                        CG "/pids/system.slice/berth-abc.scope");
    /* A saved cgroup_path() comes back with the systemd flag: taken as is. */
    assert_string_equal(path_of(f, "/system.slice/berth-abc.scope", "abc", true, "pids", &e),
                        CG "/pids/system.slice/berth-abc.scope");
    assert_null(path_of(f, "/system.slice/../x", "abc", true, NULL, &e));
    assert_string_equal(e, "cgroupsPath '/system.slice/../x': '..' is not allowed");
    free(e);

    static const struct {
        const char *path;
        bool systemd;
        const char *msg;
    } bad[] = {
        {"/a/../b", false, "cgroupsPath '/a/../b': '..' is not allowed"},
        {"../x", false, "cgroupsPath '../x': '..' is not allowed"},
        {"/", false, "cgroupsPath '/': is the cgroup root"},
        {"a/..", false, "cgroupsPath 'a/..': '..' is not allowed"},
        {".", false, "cgroupsPath '.': names no cgroup"},
        {"berth", true, "cgroupsPath 'berth': expected 'slice:prefix:name'"},
        {"a--b.slice:p:n", true, "cgroupsPath 'a--b.slice:p:n': invalid slice name 'a--b.slice'"},
        {"-a.slice:p:n", true, "cgroupsPath '-a.slice:p:n': invalid slice name '-a.slice'"},
        {"foo:p:n", true, "cgroupsPath 'foo:p:n': invalid slice name 'foo'"},
        {".slice:p:n", true, "cgroupsPath '.slice:p:n': invalid slice name '.slice'"},
        {"system.slice:p:..", true, "cgroupsPath 'system.slice:p:..': invalid unit name '..'"},
        {"system.slice:p:a/b", true, "cgroupsPath 'system.slice:p:a/b': invalid unit name"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        e = NULL;
        const char *got = path_of(f, bad[i].path, "c1", bad[i].systemd, NULL, &e);
        if (got) {
            fail_msg("'%s' resolved to '%s'", bad[i].path, got);
        }
        if (!strneq(e, bad[i].msg, strlen(bad[i].msg))) {
            fail_msg("'%s': got '%s', want '%s'", bad[i].path, e, bad[i].msg);
        }
        free(e);
    }
    e = NULL;
    assert_null(path_of(f, NULL, NULL, false, NULL, &e));
    assert_string_equal(e, "cgroupsPath: empty and no container id");
    free(e);
}

static void test_paths_hybrid_unified(void **state)
{
    struct fake *f = *state;
    char *e = NULL;
    fake_layout(f, HYBRID);
    assert_string_equal(path_of(f, "c1", "c1", false, "memory", &e),
                        CG "/memory/process_api/d479/c1");
    assert_string_equal(path_of(f, "c1", "c1", false, "cpuacct", &e),
                        CG "/cpuacct/process_api/d479/c1");
    assert_string_equal(path_of(f, "c1", "c1", false, "cgroup2", &e),
                        CG "/unified/process_api/d479/c1");
    /* On a hybrid host the base of relative paths is memory's own cgroup. */
    assert_string_equal(path_of(f, "c1", "c1", false, NULL, &e), "/process_api/d479/c1");
    assert_string_equal(path_of(f, "/b/c1", "c1", false, "cgroup2", &e), CG "/unified/b/c1");
}

/* A mount whose root is not the hierarchy root (a container's view of a
 * bind-mounted subtree): our own cgroup is taken relative to that root. */
static void test_paths_mount_root(void **state)
{
    struct fake *f = *state;
    static const char mi[] = "30 25 0:26 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
    struct cgroup_sys sys = {
        .mountinfo = mi, .self_cgroup = "0::/kubepods/pod1/ctr\n", .root = f->root};
    mkdirf(f, CG);
    _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
    assert_int_equal(cgroup_new_sys(&sys, "sub", "c1", false, &cg, NULL), 0);
    assert_string_equal(cgroup_path(cg), "/ctr/sub");
    cgroup_free(TAKE_PTR(cg));
    /* A cgroup outside the mount's root counts as the root. */
    sys.self_cgroup = "0::/elsewhere\n";
    assert_int_equal(cgroup_new_sys(&sys, "sub", "c1", false, &cg, NULL), 0);
    assert_string_equal(cgroup_path(cg), "/sub");
}

/* ---- create / destroy -------------------------------------------------------- */

static void test_create_v1(void **state)
{
    struct fake *f = *state;
    fake_layout(f, V1);
    _cleanup_(cgroup_freep) struct cgroup *cg = open_cg(f, "/berth/c1", true);
    static const char *const hiers[] = {"systemd",          "cpu,cpuacct", "memory",  "pids",
                                        "cpuset",           "devices",     "freezer", "blkio",
                                        "net_cls,net_prio", "hugetlb"};
    for (size_t i = 0; i < ARRAY_SIZE(hiers); i++) {
        _cleanup_free_ char *d = xasprintf(CG "/%s/berth/c1", hiers[i]);
        assert_true(exists(f, d));
    }
    /* cpuset inherited down every new level, else no task could join. */
    assert_file(f, CG "/cpuset/berth/cpuset.cpus", "0-3");
    assert_file(f, CG "/cpuset/berth/c1/cpuset.cpus", "0-3");
    assert_file(f, CG "/cpuset/berth/c1/cpuset.mems", "0");

    /* Reuse: creating again is fine. */
    assert_int_equal(cgroup_create(cg, NULL), 0);

    /* add_pid goes to every hierarchy. */
    assert_int_equal(cgroup_add_pid(cg, 4242, NULL), 0);
    for (size_t i = 0; i < ARRAY_SIZE(hiers); i++) {
        _cleanup_free_ char *p = xasprintf(CG "/%s/berth/c1/cgroup.procs", hiers[i]);
        assert_file(f, p, "4242");
    }

    /* Destroy removes the leaf (and child cgroups) everywhere, not the parent. */
    mkdirf(f, CG "/memory/berth/c1/nested/deeper");
    putf(f, CG "/memory/berth/c1/nested/cgroup.procs", "");
    assert_int_equal(cgroup_destroy(cg, NULL), 0);
    for (size_t i = 0; i < ARRAY_SIZE(hiers); i++) {
        _cleanup_free_ char *d = xasprintf(CG "/%s/berth/c1", hiers[i]);
        _cleanup_free_ char *parent = xasprintf(CG "/%s/berth", hiers[i]);
        assert_false(exists(f, d));
        assert_true(exists(f, parent));
    }
    /* Missing is success. */
    assert_int_equal(cgroup_destroy(cg, NULL), 0);
}

static void test_create_rollback(void **state)
{
    struct fake *f = *state;
    fake_layout(f, V1);
    /* The blkio mount point vanished: creation fails there. */
    _cleanup_free_ char *blkio = xasprintf("%s" CG "/blkio", f->root);
    assert_int_equal(rmdir(blkio), 0);
    _cleanup_(cgroup_freep) struct cgroup *cg = open_cg(f, "/berth/c1", false);
    _cleanup_error_ struct berth_error *err = NULL;
    assert_int_equal(cgroup_create(cg, &err), -ENOENT);
    _cleanup_free_ char *want = xasprintf("create cgroup '/berth/c1' in 'blkio': mkdir '%s" CG
                                          "/blkio/berth': no such file or directory",
                                          f->root);
    assert_string_equal(err->msg, want);
    /* Nothing it created is left, parents included; what existed stays. */
    assert_false(exists(f, CG "/memory/berth"));
    assert_false(exists(f, CG "/systemd/berth"));
    assert_false(exists(f, CG "/cpuset/berth"));
    assert_true(exists(f, CG "/memory/user/me"));
}

static void test_create_unified_enables_controllers(void **state)
{
    struct fake *f = *state;
    fake_layout(f, UNIFIED);
    _cleanup_(cgroup_freep) struct cgroup *cg = open_cg(f, "/berth/c1", true);
    assert_true(exists(f, CG "/berth/c1"));
    /* Every ancestor passes down what berth drives (not misc). */
    assert_file(f, CG "/cgroup.subtree_control", "cpu cpuset io memory pids hugetlb rdma");
    assert_file(f, CG "/berth/cgroup.subtree_control", "cpu cpuset io memory pids hugetlb rdma");
    assert_file(f, CG "/berth/c1/cgroup.controllers", "cpu cpuset io memory pids hugetlb rdma");
    assert_file(f, CG "/berth/c1/cgroup.subtree_control", "");
    /* Already enabled controllers are not written again. */
    strbuf_reset(&f->log);
    _cleanup_(cgroup_freep) struct cgroup *cg2 = open_cg(f, "/berth/c2", true);
    assert_int_equal(logcount(f, "cgroup.subtree_control"), 0);
}

static void test_create_hybrid(void **state)
{
    struct fake *f = *state;
    fake_layout(f, HYBRID);
    _cleanup_(cgroup_freep) struct cgroup *cg = open_cg(f, "/berth-x", true);
    static const char *const hiers[] = {"cpu",     "cpuacct", "cpuset", "memory",  "devices",
                                        "freezer", "blkio",   "pids",   "systemd", "unified"};
    for (size_t i = 0; i < ARRAY_SIZE(hiers); i++) {
        _cleanup_free_ char *d = xasprintf(CG "/%s/berth-x", hiers[i]);
        assert_true(exists(f, d));
    }
    /* Only hugetlb lives on cgroup2 here, so only it is enabled there. */
    assert_file(f, CG "/unified/cgroup.subtree_control", "hugetlb");
    assert_true(exists(f, CG "/unified/berth-x/hugetlb.2MB.max"));
    assert_true(cgroup_destroy(cg, NULL) == 0);
    assert_false(exists(f, CG "/unified/berth-x"));
    assert_false(exists(f, CG "/memory/berth-x"));
}

/* ---- resources: v1 ----------------------------------------------------------- */

static void test_memory_v1(void **state)
{
    struct fake *f = *state;
    fake_layout(f, V1);
    _cleanup_(cgroup_freep) struct cgroup *cg = open_cg(f, "/c1", true);
    apply_ok(cg, "{\"memory\": {\"limit\": 1048576, \"reservation\": 524288, \"swap\": 2097152,"
                 " \"swappiness\": 10, \"disableOOMKiller\": true, \"kernel\": 1000,"
                 " \"kernelTCP\": 4096, \"useHierarchy\": true}}");
    assert_file(f, CG "/memory/c1/memory.limit_in_bytes", "1048576");
    assert_file(f, CG "/memory/c1/memory.memsw.limit_in_bytes", "2097152");
    assert_file(f, CG "/memory/c1/memory.soft_limit_in_bytes", "524288");
    assert_file(f, CG "/memory/c1/memory.swappiness", "10");
    assert_file(f, CG "/memory/c1/memory.oom_control", "1");
    assert_file(f, CG "/memory/c1/memory.kmem.tcp.limit_in_bytes", "4096");
    /* Lowering from unlimited: the limit goes first, memsw after. */
    assert_true(logpos(f, "memory.limit_in_bytes=1048576") <
                logpos(f, "memory.memsw.limit_in_bytes=2097152"));
    /* useHierarchy already 1: not rewritten (the kernel refuses writes). */
    assert_int_equal(logcount(f, "memory.use_hierarchy"), 0);

    /* Raising past the current limit: memsw first. */
    strbuf_reset(&f->log);
    apply_ok(cg, "{\"memory\": {\"limit\": 8388608, \"swap\": 16777216}}");
    assert_true(logpos(f, "memory.memsw.limit_in_bytes=16777216") <
                logpos(f, "memory.limit_in_bytes=8388608"));

    /* -1: unlimited, and unlimited swap too when swap is not given. */
    strbuf_reset(&f->log);
    apply_ok(cg, "{\"memory\": {\"limit\": -1}}");
    assert_file(f, CG "/memory/c1/memory.limit_in_bytes", "-1");
    assert_file(f, CG "/memory/c1/memory.memsw.limit_in_bytes", "-1");
    assert_true(logpos(f, "memsw.limit_in_bytes=-1") < logpos(f, "memory.limit_in_bytes=-1"));
}

/* The kernel refuses the first write with EINVAL (the limits moved under
 * us): the other order is tried, as runc does. */
static void test_memory_v1_einval_retry(void **state)
{
    struct fake *f = *state;
    fake_layout(f, V1);
    _cleanup_(cgroup_freep) struct cgroup *cg = open_cg(f, "/c1", true);
    f->fail_suffix = "/memory.limit_in_bytes";
    f->fail_errno = EINVAL;
    f->fail_count = 1;
    apply_ok(cg, "{\"memory\": {\"limit\": 1048576, \"swap\": 2097152}}");
    long refused = logpos(f, "!/memory/c1/memory.limit_in_bytes=1048576");
    long memsw = logpos(f, "/memory/c1/memory.memsw.limit_in_bytes=2097152");
    long limit = logpos(f, "\n/memory/c1/memory.limit_in_bytes=1048576");
    assert_true(refused >= 0 && refused < memsw && memsw < limit);
    assert_file(f, CG "/memory/c1/memory.limit_in_bytes", "1048576");
    assert_file(f, CG "/memory/c1/memory.memsw.limit_in_bytes", "2097152");
}

static void test_memory_v1_errors(void **state)
{
    struct fake *f = *state;
    fake_layout(f, V1);
    _cleanup_(cgroup_freep) struct cgroup *cg = open_cg(f, "/c1", true);
    putf(f, CG "/memory/c1/memory.usage_in_bytes", "4194304\n");
    f->fail_suffix = "/memory.limit_in_bytes";
    f->fail_errno = EBUSY;
    f->fail_count = 1;
    apply_fails(cg, "{\"memory\": {\"limit\": 1048576}}",
                "linux.resources.memory.limit: write 'memory.limit_in_bytes' = '1048576': "
                "device or resource busy (current usage 4194304 bytes)");
    apply_fails(cg, "{\"memory\": {\"limit\": 1048576, \"swap\": 4096}}",
                "linux.resources.memory.swap: memory+swap limit 4096 is below the memory "
                "limit 1048576");
    /* No swap accounting on this host. */
    _cleanup_free_ char *memsw =
        xasprintf("%s" CG "/memory/c1/memory.memsw.limit_in_bytes", f->root);
    assert_int_equal(unlink(memsw), 0);
    apply_fails(cg, "{\"memory\": {\"limit\": 1048576, \"swap\": 2097152}}",
                "linux.resources.memory.swap: swap accounting is disabled on this host");
    /* ... where unlimited swap needs nothing. */
    apply_ok(cg, "{\"memory\": {\"limit\": 1048576, \"swap\": -1}}");
}

static void test_cpu_v1(void **state)
{
    struct fake *f = *state;
    fake_layout(f, V1);
    _cleanup_(cgroup_freep) struct cgroup *cg = open_cg(f, "/c1", true);
    apply_ok(cg, "{\"cpu\": {\"shares\": 512, \"quota\": 50000, \"period\": 100000,"
                 " \"burst\": 10000, \"realtimeRuntime\": 950, \"realtimePeriod\": 1000,"
                 " \"cpus\": \"0-1,3\", \"mems\": \"0\", \"idle\": 0}}");
    assert_file(f, CG "/cpu,cpuacct/c1/cpu.shares", "512");
    assert_file(f, CG "/cpu,cpuacct/c1/cpu.cfs_quota_us", "50000");
    assert_file(f, CG "/cpu,cpuacct/c1/cpu.cfs_period_us", "100000");
    assert_file(f, CG "/cpu,cpuacct/c1/cpu.cfs_burst_us", "10000");
    assert_file(f, CG "/cpu,cpuacct/c1/cpu.rt_runtime_us", "950");
    assert_file(f, CG "/cpu,cpuacct/c1/cpu.rt_period_us", "1000");
    assert_file(f, CG "/cpu,cpuacct/c1/cpu.idle", "0");
    assert_file(f, CG "/cpuset/c1/cpuset.cpus", "0-1,3");
    assert_file(f, CG "/cpuset/c1/cpuset.mems", "0");
    assert_true(logpos(f, "cpu.cfs_period_us=") < logpos(f, "cpu.cfs_quota_us="));

    /* A period refused against the current quota is written after the quota. */
    strbuf_reset(&f->log);
    f->fail_suffix = "/cpu.cfs_period_us";
    f->fail_errno = EINVAL;
    f->fail_count = 1;
    apply_ok(cg, "{\"cpu\": {\"quota\": 20000, \"period\": 40000}}");
    assert_true(logpos(f, "!/cpu,cpuacct/c1/cpu.cfs_period_us=40000") <
                logpos(f, "cpu.cfs_quota_us=20000"));
    assert_true(logpos(f, "cpu.cfs_quota_us=20000") <
                logpos(f, "\n/cpu,cpuacct/c1/cpu.cfs_period_us=40000"));
    assert_file(f, CG "/cpu,cpuacct/c1/cpu.cfs_period_us", "40000");

    /* Without a quota in the update, the refusal is the answer. */
    f->fail_count = 1;
    apply_fails(cg, "{\"cpu\": {\"period\": 40000}}",
                "linux.resources.cpu.period: write 'cpu.cfs_period_us' = '40000': invalid "
                "argument");

    /* The kernel clamps shares silently; we say so. */
    f->rewrite_suffix = "/cpu.shares";
    f->rewrite_value = "2\n";
    apply_fails(cg, "{\"cpu\": {\"shares\": 1}}",
                "linux.resources.cpu.shares: 1 is out of range, the kernel took 2");
}

static void test_pids_blkio_misc_v1(void **state)
{
    struct fake *f = *state;
    fake_layout(f, V1);
    _cleanup_(cgroup_freep) struct cgroup *cg = open_cg(f, "/c1", true);
    apply_ok(cg, "{\"pids\": {\"limit\": 10}}");
    assert_file(f, CG "/pids/c1/pids.max", "10");
    apply_ok(cg, "{\"pids\": {\"limit\": -1}}");
    assert_file(f, CG "/pids/c1/pids.max", "max");
    apply_ok(cg, "{\"pids\": {\"limit\": 0}}");
    assert_file(f, CG "/pids/c1/pids.max", "0");

    strbuf_reset(&f->log);
    apply_ok(cg, "{\"blockIO\": {\"weight\": 500, \"weightDevice\": [{\"major\": 8, \"minor\": 0,"
                 " \"weight\": 300}], \"throttleReadBpsDevice\": [{\"major\": 8, \"minor\": 0,"
                 " \"rate\": 1048576}], \"throttleWriteIOPSDevice\": [{\"major\": 8, \"minor\": "
                 "16, \"rate\": 300}]}}");
    /* No blkio.weight (CFQ is gone): BFQ's knobs. */
    assert_file(f, CG "/blkio/c1/blkio.bfq.weight", "500");
    assert_file(f, CG "/blkio/c1/blkio.bfq.weight_device", "8:0 300");
    assert_file(f, CG "/blkio/c1/blkio.throttle.read_bps_device", "8:0 1048576");
    assert_file(f, CG "/blkio/c1/blkio.throttle.write_iops_device", "8:16 300");
    /* With CFQ's knob present, it wins. */
    putf(f, CG "/blkio/c1/blkio.weight", "500\n");
    putf(f, CG "/blkio/c1/blkio.weight_device", "");
    apply_ok(cg, "{\"blockIO\": {\"weight\": 200}}");
    assert_file(f, CG "/blkio/c1/blkio.weight", "200");

    apply_ok(cg, "{\"network\": {\"classID\": 1048577, \"priorities\": [{\"name\": \"eth0\","
                 " \"priority\": 5}]}}");
    assert_file(f, CG "/net_cls,net_prio/c1/net_cls.classid", "1048577");
    assert_file(f, CG "/net_cls,net_prio/c1/net_prio.ifpriomap", "eth0 5");

    apply_ok(cg, "{\"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": 209715200}]}");
    assert_file(f, CG "/hugetlb/c1/hugetlb.2MB.limit_in_bytes", "209715200");
    apply_fails(cg, "{\"hugepageLimits\": [{\"pageSize\": \"64KB\", \"limit\": 1}]}",
                "linux.resources.hugepageLimits[0].pageSize: page size '64KB' is not supported "
                "on this host (no 'hugetlb.64KB.limit_in_bytes')");
    /* No rdma hierarchy on this host. */
    apply_fails(cg, "{\"rdma\": {\"mlx5_1\": {\"hcaHandles\": 3}}}",
                "linux.resources.rdma: the 'rdma' cgroup controller is not available on this "
                "host");
}

static void test_devices_v1(void **state)
{
    struct fake *f = *state;
    fake_layout(f, V1);
    _cleanup_(cgroup_freep) struct cgroup *cg = open_cg(f, "/c1", true);
    apply_ok(cg, "{\"devices\": [{\"allow\": false, \"access\": \"rwm\"},"
                 " {\"allow\": true, \"type\": \"c\", \"major\": 10, \"minor\": 229,"
                 " \"access\": \"rw\"},"
                 " {\"allow\": true, \"type\": \"b\", \"major\": 8, \"access\": \"r\"},"
                 " {\"allow\": false, \"type\": \"c\", \"major\": 10, \"minor\": 229,"
                 " \"access\": \"w\"}]}");
    const char *want[] = {
        "/devices/c1/devices.deny=a\n",
        "/devices/c1/devices.deny=a\n",
        "/devices/c1/devices.allow=c 10:229 rw\n",
        "/devices/c1/devices.allow=b 8:* r\n",
        "/devices/c1/devices.deny=c 10:229 w\n",
        /* runc's defaults, after the configured rules */
        "/devices/c1/devices.allow=c *:* m\n",
        "/devices/c1/devices.allow=b *:* m\n",
        "/devices/c1/devices.allow=c 1:3 rwm\n",
        "/devices/c1/devices.allow=c 1:8 rwm\n",
        "/devices/c1/devices.allow=c 1:7 rwm\n",
        "/devices/c1/devices.allow=c 5:0 rwm\n",
        "/devices/c1/devices.allow=c 1:5 rwm\n",
        "/devices/c1/devices.allow=c 1:9 rwm\n",
        "/devices/c1/devices.allow=c 136:* rwm\n",
        "/devices/c1/devices.allow=c 5:2 rwm\n",
    };
    struct strbuf sb = STRBUF_INIT;
    for (size_t i = 0; i < ARRAY_SIZE(want); i++) {
        strbuf_adds(&sb, want[i]);
    }
    /* The devices are written first; before them only cgroup creation. */
    const char *log = strbuf_str(&f->log);
    assert_true(strlen(log) >= sb.len);
    assert_string_equal(log + strlen(log) - sb.len, strbuf_str(&sb));
    strbuf_release(&sb);
}

/* A new container without a devices list gets the defaults; an update of a
 * running one that names no devices leaves them alone. */
static void test_devices_default_and_update(void **state)
{
    struct fake *f = *state;
    fake_layout(f, V1);
    _cleanup_(cgroup_freep) struct cgroup *cg = open_cg(f, "/c1", true);
    apply_ok(cg, "{\"memory\": {\"limit\": 1048576}}");
    assert_true(logpos(f, "/devices/c1/devices.deny=a\n") >= 0);
    assert_true(logpos(f, "/devices/c1/devices.allow=c 1:3 rwm\n") >= 0);

    strbuf_reset(&f->log);
    _cleanup_(cgroup_freep) struct cgroup *later = open_cg(f, "/c1", false);
    apply_ok(later, "{\"pids\": {\"limit\": 5}}");
    /* Only what the update names: no devices, and memory untouched. */
    assert_string_equal(strbuf_str(&f->log), "/pids/c1/pids.max=5\n");
    assert_file(f, CG "/memory/c1/memory.limit_in_bytes", "1048576");
    apply_ok(later, "{}");
    apply_ok(later, "null");
    assert_string_equal(strbuf_str(&f->log), "/pids/c1/pids.max=5\n");
    _cleanup_error_ struct berth_error *err = NULL;
    assert_int_equal(cgroup_apply_resources(later, NULL, &err), 0);
}

/* ---- resources: v2 and hybrid ---------------------------------------------------- */

static void test_v2_resources(void **state)
{
    struct fake *f = *state;
    fake_layout(f, UNIFIED);
    _cleanup_(cgroup_freep) struct cgroup *cg = open_cg(f, "/berth/c1", true);
    apply_ok(cg, "{\"memory\": {\"limit\": 1073741824, \"swap\": 1610612736, \"reservation\":"
                 " 536870912, \"swappiness\": 5},"
                 " \"cpu\": {\"shares\": 1024, \"quota\": 50000, \"period\": 100000, \"burst\":"
                 " 1000, \"cpus\": \"0-3\", \"mems\": \"0\"},"
                 " \"pids\": {\"limit\": -1},"
                 " \"blockIO\": {\"weight\": 500, \"leafWeight\": 300, \"weightDevice\": "
                 "[{\"major\": 8, \"minor\": 0, \"weight\": 1000}], \"throttleReadBpsDevice\":"
                 " [{\"major\": 8, \"minor\": 0, \"rate\": 4096}], \"throttleWriteBpsDevice\":"
                 " [{\"major\": 8, \"minor\": 0, \"rate\": 0}]},"
                 " \"hugepageLimits\": [{\"pageSize\": \"1GB\", \"limit\": 1073741824}],"
                 " \"rdma\": {\"mlx5_1\": {\"hcaHandles\": 3, \"hcaObjects\": 10000}}}");
    const char *d = CG "/berth/c1/";
    struct {
        const char *file, *want;
    } files[] = {
        {"memory.max", "1073741824"},
        /* memory.swap.max is swap alone: 1.5G - 1G */
        {"memory.swap.max", "536870912"},
        {"memory.low", "536870912"},
        /* 1 + (1024-2)*9999/262142 */
        {"cpu.weight", "39"},
        {"cpu.max", "50000 100000"},
        {"cpu.max.burst", "1000"},
        {"cpuset.cpus", "0-3"},
        {"cpuset.mems", "0"},
        {"pids.max", "max"},
        /* 1 + (500-10)*9999/990 (no BFQ) */
        {"io.weight", "8:0 10000"},
        {"io.max", "8:0 wbps=max"},
        {"rdma.max", "mlx5_1 hca_handle=3 hca_object=10000"},
        {"hugetlb.1GB.max", "1073741824"},
        {"hugetlb.1GB.rsvd.max", "1073741824"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        _cleanup_free_ char *p = xasprintf("%s%s", d, files[i].file);
        assert_file(f, p, files[i].want);
    }
    assert_true(logpos(f, "/berth/c1/io.weight=4950\n") >= 0);
    assert_true(logpos(f, "/berth/c1/io.weight=8:0 10000\n") >= 0);
    assert_true(logpos(f, "/berth/c1/io.max=8:0 rbps=4096\n") >= 0);
    /* rate 0 lifts the limit, as on v1 (0 would stop I/O on v2). */
    assert_true(logpos(f, "/berth/c1/io.max=8:0 wbps=max\n") >= 0);
    /* The swap knob goes before memory.max (runc's order). */
    assert_true(logpos(f, "memory.swap.max=") < logpos(f, "memory.max="));
    /* A default device filter was attached (new container). */
    assert_int_equal(f->bpf_calls, 1);

    /* A period alone keeps the quota. */
    apply_ok(cg, "{\"cpu\": {\"period\": 50000}}");
    assert_file(f, CG "/berth/c1/cpu.max", "50000 50000");
    putf(f, CG "/berth/c1/cpu.max", "max 100000\n");
    apply_ok(cg, "{\"cpu\": {\"period\": 20000}}");
    assert_file(f, CG "/berth/c1/cpu.max", "max 20000");
    apply_ok(cg, "{\"cpu\": {\"quota\": -1}}");
    assert_file(f, CG "/berth/c1/cpu.max", "max");
    /* idle cgroups have no weight. */
    strbuf_reset(&f->log);
    apply_ok(cg, "{\"cpu\": {\"shares\": 2, \"idle\": 1}}");
    assert_string_equal(strbuf_str(&f->log), "/berth/c1/cpu.idle=1\n");
    apply_ok(cg, "{\"cpu\": {\"shares\": 262144}}");
    assert_file(f, CG "/berth/c1/cpu.weight", "10000");
    apply_ok(cg, "{\"cpu\": {\"shares\": 2}}");
    assert_file(f, CG "/berth/c1/cpu.weight", "1");

    /* -1 everywhere. */
    apply_ok(cg, "{\"memory\": {\"limit\": -1}}");
    assert_file(f, CG "/berth/c1/memory.max", "max");
    assert_file(f, CG "/berth/c1/memory.swap.max", "max");
    /* swap == limit: no swap at all. */
    apply_ok(cg, "{\"memory\": {\"limit\": 4096, \"swap\": 4096}}");
    assert_file(f, CG "/berth/c1/memory.swap.max", "0");

    apply_fails(cg, "{\"memory\": {\"swap\": 8192}}",
                "linux.resources.memory.swap: needs memory.limit on cgroup v2");
    apply_fails(cg, "{\"cpu\": {\"realtimeRuntime\": 1000}}",
                "linux.resources.cpu.realtimeRuntime: realtime limits are not supported on "
                "cgroup v2");
    apply_fails(cg, "{\"network\": {\"classID\": 1}}",
                "linux.resources.network.classID: the 'net_cls' cgroup controller is not "
                "available on this host");
    /* checkBeforeUpdate: v1's refusal, on v2. */
    putf(f, CG "/berth/c1/memory.current", "1048576\n");
    apply_fails(cg, "{\"memory\": {\"limit\": 4096, \"checkBeforeUpdate\": true}}",
                "linux.resources.memory.limit: 4096 is below the current usage of 1048576 bytes");
    apply_ok(cg, "{\"memory\": {\"limit\": 4096}}");

    /* With BFQ, its knob takes the v1 scale. */
    putf(f, CG "/berth/c1/io.bfq.weight", "100\n");
    apply_ok(cg, "{\"blockIO\": {\"weight\": 500}}");
    assert_file(f, CG "/berth/c1/io.bfq.weight", "500");

    /* unified: raw keys, written last. */
    strbuf_reset(&f->log);
    apply_ok(cg, "{\"pids\": {\"limit\": 7}, \"unified\": {\"pids.max\": \"9\","
                 " \"cgroup.max.descendants\": \"3\"}}");
    assert_file(f, CG "/berth/c1/pids.max", "9");
    assert_true(logpos(f, "pids.max=7") < logpos(f, "pids.max=9"));
    apply_fails(cg, "{\"unified\": {\"misc.max\": \"x 1\"}}",
                "linux.resources.unified.misc.max: controller 'misc' is not enabled for this "
                "cgroup (no 'misc.max')");
    apply_fails(cg, "{\"unified\": {\"../cgroup.procs\": \"1\"}}",
                "linux.resources.unified: invalid key '../cgroup.procs'");
    apply_fails(cg, "{\"unified\": {\"pids.max\": 5}}",
                "linux.resources.unified.pids.max: expected a string");
    apply_fails(cg, "{\"unified\": {\"foo.bar\": \"1\"}}",
                "linux.resources.unified.foo.bar: the 'foo' controller is not available on "
                "cgroup v2 on this host");
}

/* A controller the cgroup2 root does not offer. */
static void test_v2_missing_controller(void **state)
{
    struct fake *f = *state;
    fake_layout(f, UNIFIED);
    putf(f, CG "/cgroup.controllers", "cpu pids\n");
    _cleanup_(cgroup_freep) struct cgroup *cg = open_cg(f, "/c1", true);
    apply_fails(cg, "{\"memory\": {\"limit\": 1}}",
                "linux.resources.memory: the 'memory' cgroup controller is not available on this "
                "host");
    apply_fails(cg, "{\"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": 1}]}",
                "linux.resources.hugepageLimits: the 'hugetlb' cgroup controller is not "
                "available on this host");
    /* Offered at the root but not enabled for this cgroup (an ancestor with
     * processes of its own refused it): the field says so. */
    putf(f, CG "/c1/cgroup.controllers", "cpu\n");
    _cleanup_free_ char *pm = xasprintf("%s" CG "/c1/pids.max", f->root);
    unlink(pm);
    apply_fails(cg, "{\"pids\": {\"limit\": 3}}",
                "linux.resources.pids.limit: controller 'pids' is not enabled for this cgroup "
                "(no 'pids.max')");
}

static void test_hybrid_resources(void **state)
{
    struct fake *f = *state;
    fake_layout(f, HYBRID);
    _cleanup_(cgroup_freep) struct cgroup *cg = open_cg(f, "/berth-x", true);
    apply_ok(cg, "{\"memory\": {\"limit\": 1048576}, \"pids\": {\"limit\": 10},"
                 " \"cpu\": {\"shares\": 512},"
                 " \"hugepageLimits\": [{\"pageSize\": \"2MB\", \"limit\": 4194304}],"
                 " \"unified\": {\"hugetlb.1GB.max\": \"0\"}}");
    assert_file(f, CG "/memory/berth-x/memory.limit_in_bytes", "1048576");
    assert_file(f, CG "/pids/berth-x/pids.max", "10");
    assert_file(f, CG "/cpu/berth-x/cpu.shares", "512");
    /* hugetlb lives on cgroup2 here. */
    assert_file(f, CG "/unified/berth-x/hugetlb.2MB.max", "4194304");
    assert_file(f, CG "/unified/berth-x/hugetlb.2MB.rsvd.max", "4194304");
    assert_file(f, CG "/unified/berth-x/hugetlb.1GB.max", "0");
    /* Devices: v1 here, no BPF. */
    assert_int_equal(f->bpf_calls, 0);
    assert_true(logpos(f, "/devices/berth-x/devices.deny=a\n") >= 0);
    apply_fails(cg, "{\"unified\": {\"memory.max\": \"1\"}}",
                "linux.resources.unified.memory.max: the 'memory' controller is not available "
                "on cgroup v2 on this host");
    apply_fails(cg, "{\"rdma\": {\"mlx5_1\": {\"hcaHandles\": 3}}}",
                "linux.resources.rdma: the 'rdma' cgroup controller is not available");

    /* Stats come from v1 (cpuacct is its own mount here). */
    putf(f, CG "/cpuacct/berth-x/cpuacct.usage", "123456789\n");
    putf(f, CG "/cpuacct/berth-x/cpuacct.stat", "user 150\nsystem 50\n");
    struct cgroup_stats st;
    assert_int_equal(cgroup_get_stats(cg, &st, NULL), 0);
    assert_int_equal(st.cpu_usage_ns, 123456789);
    long hz = sysconf(_SC_CLK_TCK);
    assert_int_equal(st.cpu_user_ns, 150 * (1000000000 / hz));
    assert_int_equal(st.cpu_system_ns, 50 * (1000000000 / hz));
    assert_int_equal(st.memory_limit, 1048576);
    assert_int_equal(st.pids_limit, 10);
}

static void test_legacy_unified_key(void **state)
{
    struct fake *f = *state;
    fake_layout(f, V1);
    _cleanup_(cgroup_freep) struct cgroup *cg = open_cg(f, "/c1", true);
    apply_fails(cg, "{\"unified\": {\"pids.max\": \"1\"}}",
                "linux.resources.unified: cgroup v2 is not mounted on this host");
}

/* Bad input is refused before anything is written, naming the field. */
static void test_bad_input(void **state)
{
    struct fake *f = *state;
    fake_layout(f, V1);
    _cleanup_(cgroup_freep) struct cgroup *cg = open_cg(f, "/c1", false);
    static const struct {
        const char *json, *msg;
    } cases[] = {
        {"[]", "linux.resources: expected an object"},
        {"{\"cpu\": {\"shares\": -1}}", "linux.resources.cpu.shares: expected an unsigned integer"},
        {"{\"cpu\": {\"quota\": -5}}",
         "linux.resources.cpu.quota: expected -1 (unlimited) or a non-negative integer, got -5"},
        {"{\"cpu\": {\"cpus\": \"1-\"}}", "linux.resources.cpu.cpus: invalid CPU list '1-'"},
        {"{\"cpu\": {\"cpus\": \"3-1\"}}", "linux.resources.cpu.cpus: invalid CPU list '3-1'"},
        {"{\"cpu\": {\"cpus\": \"0,,1\"}}", "linux.resources.cpu.cpus: invalid CPU list"},
        {"{\"cpu\": {\"mems\": \"a\"}}", "linux.resources.cpu.mems: invalid memory node list"},
        {"{\"cpu\": {\"quota\": 1000, \"burst\": 2000}}",
         "linux.resources.cpu.burst: 2000 is larger than quota 1000"},
        {"{\"memory\": {\"limit\": -2}}",
         "linux.resources.memory.limit: expected -1 (unlimited) or a non-negative integer"},
        {"{\"memory\": {\"limit\": \"1g\"}}", "linux.resources.memory.limit: expected an integer"},
        {"{\"memory\": {\"swappiness\": 101}}",
         "linux.resources.memory.swappiness: expected 0-100, got 101"},
        {"{\"memory\": {\"disableOOMKiller\": 1}}",
         "linux.resources.memory.disableOOMKiller: expected a boolean"},
        {"{\"memory\": 5}", "linux.resources.memory: expected an object"},
        {"{\"pids\": {}}", "linux.resources.pids.limit: required field missing"},
        {"{\"pids\": {\"limit\": -7}}", "linux.resources.pids.limit: expected -1 (unlimited)"},
        {"{\"devices\": [{\"allow\": true, \"type\": \"x\"}]}",
         "linux.resources.devices[0].type: expected 'a', 'b' or 'c', got 'x'"},
        {"{\"devices\": [{\"allow\": true}, {\"type\": \"c\"}]}",
         "linux.resources.devices[1].allow: required field missing"},
        {"{\"devices\": [{\"allow\": true, \"access\": \"rwx\"}]}",
         "linux.resources.devices[0].access: expected letters of 'rwm', got 'rwx'"},
        {"{\"devices\": [{\"allow\": true, \"type\": \"c\", \"major\": -3}]}",
         "linux.resources.devices[0].major: invalid device number -3"},
        {"{\"devices\": {}}", "linux.resources.devices: expected an array"},
        {"{\"devices\": [5]}", "linux.resources.devices[0]: expected an object"},
        {"{\"blockIO\": {\"weight\": 5}}", "linux.resources.blockIO.weight: expected 10-1000"},
        {"{\"blockIO\": {\"weightDevice\": [{\"major\": 8, \"minor\": 0}]}}",
         "linux.resources.blockIO.weightDevice[0]: needs weight or leafWeight"},
        {"{\"blockIO\": {\"throttleReadBpsDevice\": [{\"major\": 8, \"rate\": 1}]}}",
         "linux.resources.blockIO.throttleReadBpsDevice[0].minor: required field missing"},
        {"{\"hugepageLimits\": [{\"pageSize\": \"2XB\", \"limit\": 1}]}",
         "linux.resources.hugepageLimits[0].pageSize: invalid page size '2XB'"},
        {"{\"hugepageLimits\": [{\"pageSize\": \"02MB\", \"limit\": 1}]}",
         "linux.resources.hugepageLimits[0].pageSize: invalid page size '02MB'"},
        {"{\"hugepageLimits\": [{\"pageSize\": \"2MB\"}]}",
         "linux.resources.hugepageLimits[0].limit: required field missing"},
        {"{\"network\": {\"priorities\": [{\"name\": \"eth 0\", \"priority\": 1}]}}",
         "linux.resources.network.priorities[0].name: invalid interface name 'eth 0'"},
        {"{\"rdma\": {\"mlx5\": {}}}", "linux.resources.rdma.mlx5: needs hcaHandles or hcaObjects"},
    };
    for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
        apply_fails(cg, cases[i].json, cases[i].msg);
    }
    /* Validation happens before the first write: a bad pids limit next to a
     * good memory limit changes nothing. */
    assert_string_equal(strbuf_str(&f->log), "");
    apply_fails(cg, "{\"memory\": {\"limit\": 4096}, \"pids\": {\"limit\": -9}}",
                "linux.resources.pids.limit");
    assert_string_equal(strbuf_str(&f->log), "");
    /* -1 swappiness is Docker's "unset". */
    apply_ok(cg, "{\"memory\": {\"swappiness\": -1}}");
}

/* ---- the BPF device filter ------------------------------------------------------ */

/* Run a device filter program as the kernel would, on one access. */
static int run_prog(const struct bpf_insn *p, size_t n, int type, int access, uint32_t major,
                    uint32_t minor)
{
    struct bpf_cgroup_dev_ctx ctx = {
        .access_type = (uint32_t)(access << 16 | type), .major = major, .minor = minor};
    uint64_t r[11] = {0};
    r[1] = (uint64_t)(uintptr_t)&ctx;
    for (size_t pc = 0; pc < n; pc++) {
        const struct bpf_insn *i = &p[pc];
        uint64_t imm = (uint64_t)(int64_t)i->imm;
        bool jump = false;
        switch (i->code) {
        case BPF_LDX | BPF_MEM | BPF_W:
            r[i->dst_reg] = *(const uint32_t *)((const char *)(uintptr_t)r[i->src_reg] + i->off);
            break;
        case BPF_ALU | BPF_AND | BPF_K:
            r[i->dst_reg] = (uint32_t)r[i->dst_reg] & (uint32_t)i->imm;
            break;
        case BPF_ALU | BPF_RSH | BPF_K:
            r[i->dst_reg] = (uint32_t)r[i->dst_reg] >> i->imm;
            break;
        case BPF_ALU | BPF_MOV | BPF_X:
            r[i->dst_reg] = (uint32_t)r[i->src_reg];
            break;
        case BPF_ALU64 | BPF_MOV | BPF_K:
            r[i->dst_reg] = imm;
            break;
        case BPF_JMP | BPF_JNE | BPF_K:
            jump = r[i->dst_reg] != imm;
            break;
        case BPF_JMP | BPF_JEQ | BPF_K:
            jump = r[i->dst_reg] == imm;
            break;
        case BPF_JMP | BPF_JNE | BPF_X:
            jump = r[i->dst_reg] != r[i->src_reg];
            break;
        case BPF_JMP | BPF_EXIT:
            return (int)r[0];
        default:
            fail_msg("unexpected opcode 0x%x at %zu", i->code, pc);
        }
        if (jump) {
            assert_true(i->off >= 0 && pc + (size_t)i->off + 1 < n);
            pc += (size_t)i->off;
        }
    }
    fail_msg("fell off the end of the program");
    return -1;
}

#define R BPF_DEVCG_ACC_READ
#define W BPF_DEVCG_ACC_WRITE
#define M BPF_DEVCG_ACC_MKNOD
#define CHR BPF_DEVCG_DEV_CHAR
#define BLK BPF_DEVCG_DEV_BLOCK

static void compile(const char *json, bool defaults, struct bpf_insn **p, size_t *n)
{
    _cleanup_json_ json_t *j = json ? J(json) : NULL;
    _cleanup_error_ struct berth_error *err = NULL;
    free(*p);
    *p = NULL;
    if (cgroup_devices_compile(j, defaults, p, n, &err) < 0) {
        fail_msg("compile: %s", err->msg);
    }
}

static void test_bpf_program(void **state)
{
    _cleanup_free_ struct bpf_insn *p = NULL;
    size_t n = 0;

    /* No rules: prologue (6) + "return deny" (2). */
    compile("[]", false, &p, &n);
    assert_int_equal(n, 8);
    assert_int_equal(run_prog(p, n, CHR, R, 1, 3), 0);

    /* Deny all: prologue + an unconditional return, no default tail. */
    compile("[{\"allow\": false, \"access\": \"rwm\"}]", false, &p, &n);
    assert_int_equal(n, 8);
    assert_int_equal(p[6].code, BPF_ALU64 | BPF_MOV | BPF_K);
    assert_int_equal(p[6].imm, 0);
    assert_int_equal(p[7].code, BPF_JMP | BPF_EXIT);

    /* Deny all, allow c 1:3 rwm: the allow block (type, major, minor, ret)
     * comes first (last rule wins), then the deny-all return. */
    compile("[{\"allow\": false, \"access\": \"rwm\"}, {\"allow\": true, \"type\": \"c\","
            " \"major\": 1, \"minor\": 3, \"access\": \"rwm\"}]",
            false, &p, &n);
    assert_int_equal(n, 6 + 5 + 2);
    assert_int_equal(p[6].code, BPF_JMP | BPF_JNE | BPF_K);
    assert_int_equal(p[6].dst_reg, BPF_REG_2);
    assert_int_equal(p[6].imm, CHR);
    assert_int_equal(p[6].off, 4);
    assert_int_equal(p[7].dst_reg, BPF_REG_4);
    assert_int_equal(p[7].imm, 1);
    assert_int_equal(p[8].dst_reg, BPF_REG_5);
    assert_int_equal(p[8].imm, 3);
    assert_int_equal(p[9].imm, 1);
    assert_int_equal(run_prog(p, n, CHR, R | W, 1, 3), 1);
    assert_int_equal(run_prog(p, n, CHR, R, 1, 5), 0);
    assert_int_equal(run_prog(p, n, BLK, R, 1, 3), 0);

    /* A partial-access rule checks the access: subset for allow. */
    compile("[{\"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 3, \"access\": \"r\"}]",
            false, &p, &n);
    assert_int_equal(n, 6 + 8 + 2);
    assert_int_equal(run_prog(p, n, CHR, R, 1, 3), 1);
    assert_int_equal(run_prog(p, n, CHR, R | W, 1, 3), 0);
    assert_int_equal(run_prog(p, n, CHR, M, 1, 3), 0);

    /* Rules before an allow-all are unreachable and not emitted. */
    compile("[{\"allow\": true, \"type\": \"c\", \"major\": 1, \"minor\": 3},"
            " {\"allow\": true, \"access\": \"rwm\"}]",
            false, &p, &n);
    assert_int_equal(n, 8);
    assert_int_equal(run_prog(p, n, BLK, R | W | M, 8, 0), 1);

    /* Wildcards: b 8:* r. */
    compile("[{\"allow\": true, \"type\": \"b\", \"major\": 8, \"access\": \"r\"}]", false, &p, &n);
    assert_int_equal(run_prog(p, n, BLK, R, 8, 17), 1);
    assert_int_equal(run_prog(p, n, BLK, W, 8, 17), 0);
    assert_int_equal(run_prog(p, n, CHR, R, 8, 17), 0);

    /* Last match wins; a deny matches on any overlap (rw is refused by
     * "deny w" although "allow rwm" also matches), as v1 does. */
    compile("[{\"allow\": true, \"type\": \"c\", \"major\": 10, \"minor\": 229, \"access\":"
            " \"rwm\"}, {\"allow\": false, \"type\": \"c\", \"major\": 10, \"minor\": 229,"
            " \"access\": \"w\"}]",
            false, &p, &n);
    assert_int_equal(run_prog(p, n, CHR, R, 10, 229), 1);
    assert_int_equal(run_prog(p, n, CHR, W, 10, 229), 0);
    assert_int_equal(run_prog(p, n, CHR, R | W, 10, 229), 0);

    /* The usual container: deny all plus runc's defaults. */
    compile("[{\"allow\": false, \"access\": \"rwm\"}]", true, &p, &n);
    assert_int_equal(run_prog(p, n, CHR, R | W, 1, 3), 1);    /* /dev/null */
    assert_int_equal(run_prog(p, n, CHR, R | W, 136, 4), 1);  /* /dev/pts/4 */
    assert_int_equal(run_prog(p, n, CHR, R | W, 5, 2), 1);    /* /dev/ptmx */
    assert_int_equal(run_prog(p, n, BLK, R, 8, 0), 0);        /* /dev/sda */
    assert_int_equal(run_prog(p, n, BLK, M, 8, 0), 1);        /* mknod is harmless */
    assert_int_equal(run_prog(p, n, CHR, R | W, 10, 200), 0); /* /dev/net/tun */
    assert_int_equal(run_prog(p, n, CHR, R, 1, 1), 0);        /* /dev/mem */
    /* Same list with no user rules at all (a new container without devices). */
    _cleanup_free_ struct bpf_insn *q = NULL;
    size_t qn = 0;
    compile(NULL, true, &q, &qn);
    assert_int_equal(run_prog(q, qn, CHR, R | W, 1, 3), 1);
    assert_int_equal(run_prog(q, qn, BLK, R, 8, 0), 0);
}

static void test_bpf_on_unified(void **state)
{
    struct fake *f = *state;
    fake_layout(f, UNIFIED);
    _cleanup_(cgroup_freep) struct cgroup *cg = open_cg(f, "/c1", true);
    apply_ok(cg, "{\"devices\": [{\"allow\": false, \"access\": \"rwm\"}, {\"allow\": true,"
                 " \"type\": \"c\", \"major\": 10, \"minor\": 229, \"access\": \"rw\"}]}");
    assert_int_equal(f->bpf_calls, 1);
    assert_int_equal(run_prog(f->prog, f->prog_n, CHR, R | W, 10, 229), 1);
    assert_int_equal(run_prog(f->prog, f->prog_n, CHR, R | W, 1, 3), 1);
    assert_int_equal(run_prog(f->prog, f->prog_n, BLK, R, 8, 0), 0);
    /* No v1 device knobs on a unified host. */
    assert_int_equal(logcount(f, "devices."), 0);
}

static void test_bpf_load_errors(void **state)
{
    /* No exit: the verifier (root) or the permission check refuses it;
     * either way the message says what failed. */
    struct bpf_insn bad[] = {{.code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = 0, .imm = 1}};
    int fd = -1;
    _cleanup_error_ struct berth_error *err = NULL;
    assert_true(cgroup_bpf_load_devices(bad, ARRAY_SIZE(bad), &fd, &err) < 0);
    assert_true(strneq(err->msg, "load device filter: ", 20));
    if (geteuid() == 0) {
        _cleanup_free_ struct bpf_insn *p = NULL;
        size_t n = 0;
        compile("[{\"allow\": false, \"access\": \"rwm\"}]", true, &p, &n);
        _cleanup_error_ struct berth_error *e2 = NULL;
        int r = cgroup_bpf_load_devices(p, n, &fd, &e2);
        if (r < 0) {
            /* A kernel without BPF or a locked-down host: still reported. */
            assert_true(strneq(e2->msg, "load device filter: ", 20));
        } else {
            assert_true(fd >= 0);
            close(fd);
        }
    }
}

/* ---- freezer, processes, kill, stats -------------------------------------------- */

static void test_freeze_v1(void **state)
{
    struct fake *f = *state;
    fake_layout(f, V1);
    _cleanup_(cgroup_freep) struct cgroup *cg = open_cg(f, "/c1", true);
    bool frozen = true;
    assert_int_equal(cgroup_is_frozen(cg, &frozen, NULL), 0);
    assert_false(frozen);
    /* Three rounds of FREEZING before the kernel reports FROZEN: FROZEN is
     * written again each time. */
    f->freezing_left = 3;
    assert_int_equal(cgroup_freeze(cg, true, NULL), 0);
    assert_int_equal(logcount(f, "/freezer/c1/freezer.state=FROZEN"), 4);
    assert_int_equal(cgroup_is_frozen(cg, &frozen, NULL), 0);
    assert_true(frozen);
    assert_int_equal(cgroup_freeze(cg, false, NULL), 0);
    assert_file(f, CG "/freezer/c1/freezer.state", "THAWED");
    /* A state the freezer never reports is an error, not a hang. */
    _cleanup_error_ struct berth_error *err = NULL;
    f->freezing_left = 1000000;
    assert_int_equal(cgroup_freeze(cg, true, &err), -EBUSY);
    assert_string_equal(err->msg, "freeze cgroup '/c1': cgroup stayed in 'FREEZING'; thawed it "
                                  "again");
    assert_file(f, CG "/freezer/c1/freezer.state", "THAWED");
}

static void test_freeze_v2(void **state)
{
    struct fake *f = *state;
    fake_layout(f, UNIFIED);
    _cleanup_(cgroup_freep) struct cgroup *cg = open_cg(f, "/c1", true);
    bool frozen = true;
    assert_int_equal(cgroup_freeze(cg, true, NULL), 0);
    assert_file(f, CG "/c1/cgroup.freeze", "1");
    assert_int_equal(cgroup_is_frozen(cg, &frozen, NULL), 0);
    assert_true(frozen);
    assert_int_equal(cgroup_freeze(cg, false, NULL), 0);
    assert_int_equal(cgroup_is_frozen(cg, &frozen, NULL), 0);
    assert_false(frozen);
}

static void test_pids_and_kill(void **state)
{
    struct fake *f = *state;
    fake_layout(f, V1);
    _cleanup_(cgroup_freep) struct cgroup *cg = open_cg(f, "/c1", true);
    mkdirf(f, CG "/pids/c1/sub/deeper");
    putf(f, CG "/pids/c1/cgroup.procs", "30\n10\n");
    putf(f, CG "/pids/c1/sub/cgroup.procs", "20\n10\n");
    putf(f, CG "/pids/c1/sub/deeper/cgroup.procs", "5\n");
    _cleanup_free_ pid_t *pids = NULL;
    size_t n = 0;
    assert_int_equal(cgroup_get_pids(cg, &pids, &n, NULL), 0);
    assert_int_equal(n, 4);
    assert_int_equal(pids[0], 5);
    assert_int_equal(pids[1], 10);
    assert_int_equal(pids[2], 20);
    assert_int_equal(pids[3], 30);
    putf(f, CG "/pids/c1/cgroup.procs", "12x\n");
    _cleanup_error_ struct berth_error *err = NULL;
    assert_true(cgroup_get_pids(cg, &pids, &n, &err) < 0);
    assert_non_null(strstr(err->msg, "unexpected line '12x'"));

    /* kill_all on v1: freeze, signal each, thaw. */
    _cleanup_free_ char *sub = xasprintf("%s" CG "/pids/c1/sub", f->root);
    assert_int_equal(rm_rf_at(AT_FDCWD, sub, NULL), 0);
    pid_t child = fork();
    assert_true(child >= 0);
    if (child == 0) {
        for (;;) {
            pause();
        }
    }
    char buf[32];
    snprintf(buf, sizeof(buf), "%d\n", (int)child);
    putf(f, CG "/pids/c1/cgroup.procs", buf);
    strbuf_reset(&f->log);
    assert_int_equal(cgroup_kill_all(cg, SIGKILL, NULL), 0);
    int status = 0;
    assert_int_equal(waitpid(child, &status, 0), child);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_true(logpos(f, "freezer.state=FROZEN") >= 0);
    assert_true(logpos(f, "freezer.state=FROZEN") < logpos(f, "freezer.state=THAWED"));
    /* Gone already: ESRCH is fine. */
    assert_int_equal(cgroup_kill_all(cg, SIGTERM, NULL), 0);
}

static void test_kill_v2(void **state)
{
    struct fake *f = *state;
    f->cgroup_kill = true;
    fake_layout(f, UNIFIED);
    _cleanup_(cgroup_freep) struct cgroup *cg = open_cg(f, "/c1", true);
    putf(f, CG "/c1/cgroup.procs", "999999999\n");
    strbuf_reset(&f->log);
    /* SIGKILL: cgroup.kill, nothing signalled by pid. */
    assert_int_equal(cgroup_kill_all(cg, SIGKILL, NULL), 0);
    assert_string_equal(strbuf_str(&f->log), "/c1/cgroup.kill=1\n");
    /* Another signal: freeze, signal, thaw (the bogus pid is ESRCH). */
    strbuf_reset(&f->log);
    assert_int_equal(cgroup_kill_all(cg, SIGTERM, NULL), 0);
    assert_string_equal(strbuf_str(&f->log), "/c1/cgroup.freeze=1\n/c1/cgroup.freeze=0\n");
}

static void test_stats(void **state)
{
    struct fake *f = *state;
    fake_layout(f, V1);
    _cleanup_(cgroup_freep) struct cgroup *cg = open_cg(f, "/c1", true);
    putf(f, CG "/memory/c1/memory.usage_in_bytes", "1000\n");
    putf(f, CG "/memory/c1/memory.limit_in_bytes", "4096\n");
    putf(f, CG "/memory/c1/memory.max_usage_in_bytes", "2000\n");
    putf(f, CG "/memory/c1/memory.stat", "cache 7\nrss 9\ntotal_cache 77\n");
    putf(f, CG "/memory/c1/memory.oom_control", "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n");
    putf(f, CG "/cpu,cpuacct/c1/cpuacct.usage", "5000\n");
    putf(f, CG "/pids/c1/pids.current", "3\n");
    putf(f, CG "/pids/c1/pids.max", "max\n");
    putf(f, CG "/blkio/c1/blkio.throttle.io_service_bytes_recursive",
         "8:0 Read 100\n8:0 Write 50\n8:0 Sync 150\n8:16 Read 1\n8:16 Write 2\nTotal 153\n");
    struct cgroup_stats st;
    assert_int_equal(cgroup_get_stats(cg, &st, NULL), 0);
    assert_int_equal(st.memory_usage, 1000);
    assert_int_equal(st.memory_limit, 4096);
    assert_int_equal(st.memory_max_usage, 2000);
    assert_int_equal(st.memory_cache, 77);
    assert_int_equal(st.oom_kills, 2);
    assert_int_equal(st.cpu_usage_ns, 5000);
    assert_int_equal(st.pids_current, 3);
    assert_int_equal(st.pids_limit, 0);
    assert_int_equal(st.blkio_read_bytes, 101);
    assert_int_equal(st.blkio_write_bytes, 52);
    assert_int_equal(cgroup_destroy(cg, NULL), 0);
    _cleanup_error_ struct berth_error *err = NULL;
    assert_int_equal(cgroup_get_stats(cg, &st, &err), -ENOENT);
    assert_string_equal(err->msg, "stats of cgroup '/c1': no such file or directory");
}

static void test_stats_v2(void **state)
{
    struct fake *f = *state;
    fake_layout(f, UNIFIED);
    _cleanup_(cgroup_freep) struct cgroup *cg = open_cg(f, "/c1", true);
    putf(f, CG "/c1/memory.current", "1000\n");
    putf(f, CG "/c1/memory.peak", "3000\n");
    putf(f, CG "/c1/memory.stat", "anon 5\nfile 66\n");
    putf(f, CG "/c1/memory.events", "low 0\nhigh 0\nmax 3\noom 1\noom_kill 1\n");
    putf(f, CG "/c1/cpu.stat", "usage_usec 7\nuser_usec 5\nsystem_usec 2\n");
    putf(f, CG "/c1/pids.max", "64\n");
    putf(f, CG "/c1/io.stat", "8:0 rbytes=100 wbytes=7 rios=1 wios=1\n8:16 rbytes=1 wbytes=1\n");
    struct cgroup_stats st;
    assert_int_equal(cgroup_get_stats(cg, &st, NULL), 0);
    assert_int_equal(st.memory_usage, 1000);
    assert_true(st.memory_limit == UINT64_MAX);
    assert_int_equal(st.memory_max_usage, 3000);
    assert_int_equal(st.memory_cache, 66);
    assert_int_equal(st.oom_kills, 1);
    assert_int_equal(st.cpu_usage_ns, 7000);
    assert_int_equal(st.cpu_user_ns, 5000);
    assert_int_equal(st.cpu_system_ns, 2000);
    assert_int_equal(st.pids_limit, 64);
    assert_int_equal(st.blkio_read_bytes, 101);
    assert_int_equal(st.blkio_write_bytes, 8);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_mode_detect, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paths, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paths_hybrid_unified, setup, teardown),
        cmocka_unit_test_setup_teardown(test_paths_mount_root, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_unified_enables_controllers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_create_hybrid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_v1_einval_retry, setup, teardown),
        cmocka_unit_test_setup_teardown(test_memory_v1_errors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cpu_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pids_blkio_misc_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices_default_and_update, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_resources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_v2_missing_controller, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hybrid_resources, setup, teardown),
        cmocka_unit_test_setup_teardown(test_legacy_unified_key, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_input, setup, teardown),
        cmocka_unit_test(test_bpf_program),
        cmocka_unit_test_setup_teardown(test_bpf_on_unified, setup, teardown),
        cmocka_unit_test(test_bpf_load_errors),
        cmocka_unit_test_setup_teardown(test_freeze_v1, setup, teardown),
        cmocka_unit_test_setup_teardown(test_freeze_v2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pids_and_kill, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_v2, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stats_v2, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
