#include "spec.h"

#include <fcntl.h>
#include <linux/ioprio.h>
#include <sched.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>

#include "basic/alloc.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "caps.h"
#include "common/json-util.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif
#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
#define MOUNT_ATTR_NOEXEC 0x00000008
#define MOUNT_ATTR__ATIME 0x00000070
#define MOUNT_ATTR_RELATIME 0x00000000
#define MOUNT_ATTR_NOATIME 0x00000010
#define MOUNT_ATTR_STRICTATIME 0x00000020
#define MOUNT_ATTR_NODIRATIME 0x00000080
#endif
#ifndef MOUNT_ATTR_NOSYMFOLLOW
#define MOUNT_ATTR_NOSYMFOLLOW 0x00200000
#endif

static const struct {
    const char *name;
    int type;
    const char *proc;
} ns_table[] = {
    {"pid", CLONE_NEWPID, "pid"},          {"network", CLONE_NEWNET, "net"},
    {"mount", CLONE_NEWNS, "mnt"},         {"ipc", CLONE_NEWIPC, "ipc"},
    {"uts", CLONE_NEWUTS, "uts"},          {"user", CLONE_NEWUSER, "user"},
    {"cgroup", CLONE_NEWCGROUP, "cgroup"}, {"time", CLONE_NEWTIME, "time"},
};

int ns_type_from_name(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(ns_table); i++) {
        if (streq(ns_table[i].name, name)) {
            return ns_table[i].type;
        }
    }
    return -1;
}

const char *ns_type_to_name(int type)
{
    for (size_t i = 0; i < ARRAY_SIZE(ns_table); i++) {
        if (ns_table[i].type == type) {
            return ns_table[i].name;
        }
    }
    return NULL;
}

const char *ns_type_proc_name(int type)
{
    for (size_t i = 0; i < ARRAY_SIZE(ns_table); i++) {
        if (ns_table[i].type == type) {
            return ns_table[i].proc;
        }
    }
    return NULL;
}

const char *oci_hook_kind_name(enum oci_hook_kind k)
{
    static const char *const names[] = {"prestart",       "createRuntime", "createContainer",
                                        "startContainer", "poststart",     "poststop"};
    return k < OCI_HOOK_KIND_MAX ? names[k] : "?";
}

static const struct {
    const char *name;
    int resource;
} rlimit_table[] = {
    {"RLIMIT_AS", RLIMIT_AS},
    {"RLIMIT_CORE", RLIMIT_CORE},
    {"RLIMIT_CPU", RLIMIT_CPU},
    {"RLIMIT_DATA", RLIMIT_DATA},
    {"RLIMIT_FSIZE", RLIMIT_FSIZE},
    {"RLIMIT_LOCKS", RLIMIT_LOCKS},
    {"RLIMIT_MEMLOCK", RLIMIT_MEMLOCK},
    {"RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE},
    {"RLIMIT_NICE", RLIMIT_NICE},
    {"RLIMIT_NOFILE", RLIMIT_NOFILE},
    {"RLIMIT_NPROC", RLIMIT_NPROC},
    {"RLIMIT_RSS", RLIMIT_RSS},
    {"RLIMIT_RTPRIO", RLIMIT_RTPRIO},
    {"RLIMIT_RTTIME", RLIMIT_RTTIME},
    {"RLIMIT_SIGPENDING", RLIMIT_SIGPENDING},
    {"RLIMIT_STACK", RLIMIT_STACK},
};

/* ---- process ---------------------------------------------------------- */

static int parse_caps(json_t *j, const char *where, struct oci_caps *caps, struct berth_error **err)
{
    static const struct {
        const char *key;
        size_t off;
    } sets[] = {
        {"bounding", offsetof(struct oci_caps, bounding)},
        {"effective", offsetof(struct oci_caps, effective)},
        {"inheritable", offsetof(struct oci_caps, inheritable)},
        {"permitted", offsetof(struct oci_caps, permitted)},
        {"ambient", offsetof(struct oci_caps, ambient)},
    };
    memset(caps, 0, sizeof(*caps));
    for (size_t s = 0; s < ARRAY_SIZE(sets); s++) {
        json_t *a = NULL;
        int r = jget_arr(j, where, sets[s].key, false, &a, err);
        if (r < 0) {
            return r;
        }
        uint64_t *mask = (uint64_t *)((char *)caps + sets[s].off);
        size_t i;
        json_t *e;
        json_array_foreach(a, i, e)
        {
            const char *name = json_string_value(e);
            if (!name) {
                return berth_error_set(err, EINVAL, "%s.%s[%zu]: expected a string", where,
                                       sets[s].key, i);
            }
            int c = berth_cap_from_name(name);
            if (c < 0) {
                return berth_error_set(err, EINVAL, "%s.%s[%zu]: unknown capability '%s'", where,
                                       sets[s].key, i, name);
            }
            if (c <= berth_cap_last()) {
                *mask |= 1ULL << c;
            }
        }
    }
    return 0;
}

static int parse_rlimits(json_t *a, const char *where, struct oci_process *p,
                         struct berth_error **err)
{
    size_t n = json_array_size(a);
    p->rlimits = xcalloc(n ? n : 1, sizeof(*p->rlimits));
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        char w[128];
        snprintf(w, sizeof(w), "%s.rlimits[%zu]", where, i);
        const char *type = NULL;
        uint64_t soft = 0, hard = 0;
        if (!json_is_object(e)) {
            return berth_error_set(err, EINVAL, "%s: expected an object", w);
        }
        int r = jget_str(e, w, "type", true, &type, err);
        if (r >= 0) {
            r = jget_u64(e, w, "soft", true, &soft, err);
        }
        if (r >= 0) {
            r = jget_u64(e, w, "hard", true, &hard, err);
        }
        if (r < 0) {
            return r;
        }
        int res = -1;
        for (size_t k = 0; k < ARRAY_SIZE(rlimit_table); k++) {
            if (streq(rlimit_table[k].name, type)) {
                res = rlimit_table[k].resource;
                type = rlimit_table[k].name;
            }
        }
        if (res < 0) {
            return berth_error_set(err, EINVAL, "%s.type: unknown rlimit '%s'", w, type);
        }
        for (size_t k = 0; k < p->n_rlimits; k++) {
            if (p->rlimits[k].resource == res) {
                return berth_error_set(err, EINVAL, "%s.type: rlimit '%s' given twice", w, type);
            }
        }
        if (soft > hard) {
            return berth_error_set(err, EINVAL, "%s: soft limit %llu above hard limit %llu", w,
                                   (unsigned long long)soft, (unsigned long long)hard);
        }
        p->rlimits[p->n_rlimits++] = (struct oci_rlimit){res, soft, hard, type};
    }
    return 0;
}

static int parse_user(json_t *u, const char *where, struct oci_user *user, struct berth_error **err)
{
    uint32_t uid = 0, gid = 0, umask = 0;
    int r = jget_u32(u, where, "uid", true, &uid, err);
    if (r >= 0) {
        r = jget_u32(u, where, "gid", true, &gid, err);
    }
    if (r < 0) {
        return r;
    }
    user->uid = uid;
    user->gid = gid;
    if (jhas(u, "umask")) {
        r = jget_u32(u, where, "umask", true, &umask, err);
        if (r < 0) {
            return r;
        }
        if (umask > 0777) {
            return berth_error_set(err, EINVAL, "%s.umask: %u is not a file mode mask", where,
                                   umask);
        }
        user->has_umask = true;
        user->umask = umask;
    }
    json_t *a = NULL;
    r = jget_arr(u, where, "additionalGids", false, &a, err);
    if (r < 0) {
        return r;
    }
    if (a) {
        user->additional_gids = xcalloc(json_array_size(a) + 1, sizeof(gid_t));
        size_t i;
        json_t *e;
        json_array_foreach(a, i, e)
        {
            if (!json_is_integer(e) || json_integer_value(e) < 0 ||
                json_integer_value(e) > UINT32_MAX) {
                return berth_error_set(
                    err, EINVAL, "%s.additionalGids[%zu]: expected an unsigned 32-bit integer",
                    where, i);
            }
            user->additional_gids[user->n_additional_gids++] = (gid_t)json_integer_value(e);
        }
    }
    const char *name = NULL;
    r = jget_str(u, where, "username", false, &name, err);
    if (r < 0) {
        return r;
    }
    user->username = name ? xstrdup(name) : NULL;
    return 0;
}

static int parse_io_priority(json_t *j, const char *where, struct oci_io_priority *io,
                             struct berth_error **err)
{
    const char *cls = NULL;
    int64_t prio = 0;
    int r = jget_str(j, where, "class", true, &cls, err);
    if (r >= 0) {
        r = jget_i64(j, where, "priority", false, &prio, err);
    }
    if (r < 0) {
        return r;
    }
    if (streq(cls, "IOPRIO_CLASS_RT")) {
        io->class_ = IOPRIO_CLASS_RT;
    } else if (streq(cls, "IOPRIO_CLASS_BE")) {
        io->class_ = IOPRIO_CLASS_BE;
    } else if (streq(cls, "IOPRIO_CLASS_IDLE")) {
        io->class_ = IOPRIO_CLASS_IDLE;
    } else {
        return berth_error_set(err, EINVAL, "%s.class: unknown class '%s'", where, cls);
    }
    if (prio < 0 || prio > 7) {
        return berth_error_set(err, EINVAL, "%s.priority: %lld is not in 0..7", where,
                               (long long)prio);
    }
    io->priority = (int)prio;
    io->set = true;
    return 0;
}

static int parse_scheduler(json_t *j, const char *where, struct oci_scheduler *s,
                           struct berth_error **err)
{
    static const struct {
        const char *name;
        int policy;
    } pol[] = {{"SCHED_OTHER", 0}, {"SCHED_FIFO", 1}, {"SCHED_RR", 2},      {"SCHED_BATCH", 3},
               {"SCHED_ISO", 4},   {"SCHED_IDLE", 5}, {"SCHED_DEADLINE", 6}};
    static const struct {
        const char *name;
        uint64_t bit;
    } fl[] = {{"SCHED_FLAG_RESET_ON_FORK", 0x01}, {"SCHED_FLAG_RECLAIM", 0x02},
              {"SCHED_FLAG_DL_OVERRUN", 0x04},    {"SCHED_FLAG_KEEP_POLICY", 0x08},
              {"SCHED_FLAG_KEEP_PARAMS", 0x10},   {"SCHED_FLAG_UTIL_CLAMP_MIN", 0x20},
              {"SCHED_FLAG_UTIL_CLAMP_MAX", 0x40}};
    const char *policy = NULL;
    int64_t nice = 0, prio = 0;
    int r = jget_str(j, where, "policy", true, &policy, err);
    if (r >= 0) {
        r = jget_i64(j, where, "nice", false, &nice, err);
    }
    if (r >= 0) {
        r = jget_i64(j, where, "priority", false, &prio, err);
    }
    if (r >= 0) {
        r = jget_u64(j, where, "runtime", false, &s->runtime, err);
    }
    if (r >= 0) {
        r = jget_u64(j, where, "deadline", false, &s->deadline, err);
    }
    if (r >= 0) {
        r = jget_u64(j, where, "period", false, &s->period, err);
    }
    if (r < 0) {
        return r;
    }
    s->policy = -1;
    for (size_t i = 0; i < ARRAY_SIZE(pol); i++) {
        if (streq(pol[i].name, policy)) {
            s->policy = pol[i].policy;
        }
    }
    if (s->policy < 0) {
        return berth_error_set(err, EINVAL, "%s.policy: unknown policy '%s'", where, policy);
    }
    if (nice < -20 || nice > 19) {
        return berth_error_set(err, EINVAL, "%s.nice: %lld is not in -20..19", where,
                               (long long)nice);
    }
    json_t *flags = NULL;
    r = jget_arr(j, where, "flags", false, &flags, err);
    if (r < 0) {
        return r;
    }
    size_t i;
    json_t *e;
    json_array_foreach(flags, i, e)
    {
        const char *f = json_string_value(e);
        uint64_t bit = 0;
        for (size_t k = 0; f && k < ARRAY_SIZE(fl); k++) {
            if (streq(fl[k].name, f)) {
                bit = fl[k].bit;
            }
        }
        if (!bit) {
            return berth_error_set(err, EINVAL, "%s.flags[%zu]: unknown flag '%s'", where, i,
                                   f ? f : "?");
        }
        s->flags |= bit;
    }
    s->nice = (int)nice;
    s->priority = (int)prio;
    s->set = true;
    return 0;
}

int oci_process_parse(json_t *j, const char *where, struct oci_process **ret,
                      struct berth_error **err)
{
    if (!json_is_object(j)) {
        return berth_error_set(err, EINVAL, "%s: expected an object", where);
    }
    _cleanup_(oci_process_freep) struct oci_process *p = xcalloc(1, sizeof(*p));
    char w[96];
    int r = jget_bool(j, where, "terminal", &p->terminal, err);
    if (r < 0) {
        return r;
    }
    json_t *cs = NULL;
    r = jget_obj(j, where, "consoleSize", false, &cs, err);
    if (r >= 0 && cs) {
        snprintf(w, sizeof(w), "%s.consoleSize", where);
        uint32_t h = 0, wd = 0;
        r = jget_u32(cs, w, "height", true, &h, err);
        if (r >= 0) {
            r = jget_u32(cs, w, "width", true, &wd, err);
        }
        p->console_height = h;
        p->console_width = wd;
    }
    if (r >= 0) {
        r = jget_strv(j, where, "args", true, &p->args, err);
    }
    if (r >= 0 && !p->args[0]) {
        r = berth_error_set(err, EINVAL, "%s.args: must not be empty", where);
    }
    if (r >= 0) {
        r = jget_strv(j, where, "env", false, &p->env, err);
    }
    for (size_t i = 0; r >= 0 && p->env && p->env[i]; i++) {
        if (!strchr(p->env[i], '=') || p->env[i][0] == '=') {
            r = berth_error_set(err, EINVAL, "%s.env[%zu]: '%s' is not KEY=value", where, i,
                                p->env[i]);
        }
    }
    const char *cwd = NULL;
    if (r >= 0) {
        r = jget_str(j, where, "cwd", true, &cwd, err);
    }
    if (r >= 0 && cwd[0] != '/') {
        r = berth_error_set(err, EINVAL, "%s.cwd: '%s' is not an absolute path", where, cwd);
    }
    if (r < 0) {
        return r;
    }
    p->cwd = xstrdup(cwd);

    json_t *u = NULL;
    snprintf(w, sizeof(w), "%s.user", where);
    r = jget_obj(j, where, "user", true, &u, err);
    if (r >= 0) {
        r = parse_user(u, w, &p->user, err);
    }
    json_t *caps = NULL;
    if (r >= 0) {
        r = jget_obj(j, where, "capabilities", false, &caps, err);
    }
    if (r >= 0 && caps) {
        snprintf(w, sizeof(w), "%s.capabilities", where);
        p->has_caps = true;
        r = parse_caps(caps, w, &p->caps, err);
    }
    json_t *rl = NULL;
    if (r >= 0) {
        r = jget_arr(j, where, "rlimits", false, &rl, err);
    }
    if (r >= 0 && rl) {
        r = parse_rlimits(rl, where, p, err);
    }
    if (r >= 0) {
        r = jget_bool(j, where, "noNewPrivileges", &p->no_new_privileges, err);
    }
    const char *s = NULL;
    if (r >= 0) {
        r = jget_str(j, where, "apparmorProfile", false, &s, err);
    }
    if (r >= 0 && s && *s) {
        p->apparmor_profile = xstrdup(s);
    }
    s = NULL;
    if (r >= 0) {
        r = jget_str(j, where, "selinuxLabel", false, &s, err);
    }
    if (r >= 0 && s && *s) {
        p->selinux_label = xstrdup(s);
    }
    if (r >= 0 && jhas(j, "oomScoreAdj")) {
        int64_t v = 0;
        r = jget_i64(j, where, "oomScoreAdj", true, &v, err);
        if (r >= 0 && (v < -1000 || v > 1000)) {
            r = berth_error_set(err, EINVAL, "%s.oomScoreAdj: %lld is not in -1000..1000", where,
                                (long long)v);
        }
        p->has_oom_score_adj = true;
        p->oom_score_adj = (int)v;
    }
    json_t *io = NULL;
    if (r >= 0) {
        r = jget_obj(j, where, "ioPriority", false, &io, err);
    }
    if (r >= 0 && io) {
        snprintf(w, sizeof(w), "%s.ioPriority", where);
        r = parse_io_priority(io, w, &p->io_priority, err);
    }
    json_t *sch = NULL;
    if (r >= 0) {
        r = jget_obj(j, where, "scheduler", false, &sch, err);
    }
    if (r >= 0 && sch) {
        snprintf(w, sizeof(w), "%s.scheduler", where);
        r = parse_scheduler(sch, w, &p->scheduler, err);
    }
    if (r < 0) {
        return r;
    }
    *ret = TAKE_PTR(p);
    return 0;
}

void oci_process_free(struct oci_process *p)
{
    if (!p) {
        return;
    }
    strv_free(p->args);
    strv_free(p->env);
    free(p->cwd);
    free(p->user.additional_gids);
    free(p->user.username);
    free(p->rlimits);
    free(p->apparmor_profile);
    free(p->selinux_label);
    free(p);
}

/* ---- mounts ----------------------------------------------------------- */

struct mount_opt {
    const char *name;
    bool clear;         /* clears flag instead of setting it */
    unsigned long flag; /* MS_* */
    unsigned long prop; /* propagation MS_* */
    uint64_t rec_attr;  /* MOUNT_ATTR_* for r* options */
    bool rec_clear;
    unsigned attr; /* enum oci_mount_attr_flags */
};

static const struct mount_opt mount_opts[] = {
    {"defaults", false, 0, 0, 0, false, 0},
    {"ro", false, MS_RDONLY, 0, 0, false, 0},
    {"rw", true, MS_RDONLY, 0, 0, false, 0},
    {"suid", true, MS_NOSUID, 0, 0, false, 0},
    {"nosuid", false, MS_NOSUID, 0, 0, false, 0},
    {"dev", true, MS_NODEV, 0, 0, false, 0},
    {"nodev", false, MS_NODEV, 0, 0, false, 0},
    {"exec", true, MS_NOEXEC, 0, 0, false, 0},
    {"noexec", false, MS_NOEXEC, 0, 0, false, 0},
    {"sync", false, MS_SYNCHRONOUS, 0, 0, false, 0},
    {"async", true, MS_SYNCHRONOUS, 0, 0, false, 0},
    {"dirsync", false, MS_DIRSYNC, 0, 0, false, 0},
    {"remount", false, MS_REMOUNT, 0, 0, false, 0},
    {"mand", false, MS_MANDLOCK, 0, 0, false, 0},
    {"nomand", true, MS_MANDLOCK, 0, 0, false, 0},
    {"atime", true, MS_NOATIME, 0, 0, false, 0},
    {"noatime", false, MS_NOATIME, 0, 0, false, 0},
    {"diratime", true, MS_NODIRATIME, 0, 0, false, 0},
    {"nodiratime", false, MS_NODIRATIME, 0, 0, false, 0},
    {"relatime", false, MS_RELATIME, 0, 0, false, 0},
    {"norelatime", true, MS_RELATIME, 0, 0, false, 0},
    {"strictatime", false, MS_STRICTATIME, 0, 0, false, 0},
    {"nostrictatime", true, MS_STRICTATIME, 0, 0, false, 0},
    {"lazytime", false, MS_LAZYTIME, 0, 0, false, 0},
    {"nolazytime", true, MS_LAZYTIME, 0, 0, false, 0},
    {"silent", false, MS_SILENT, 0, 0, false, 0},
    {"loud", true, MS_SILENT, 0, 0, false, 0},
    {"iversion", false, MS_I_VERSION, 0, 0, false, 0},
    {"noiversion", true, MS_I_VERSION, 0, 0, false, 0},
    {"nosymfollow", false, MS_NOSYMFOLLOW, 0, 0, false, 0},
    {"symfollow", true, MS_NOSYMFOLLOW, 0, 0, false, 0},
    {"bind", false, MS_BIND, 0, 0, false, OCI_MOUNT_BIND},
    {"rbind", false, MS_BIND | MS_REC, 0, 0, false, OCI_MOUNT_RBIND},
    {"private", false, 0, MS_PRIVATE, 0, false, 0},
    {"rprivate", false, 0, MS_PRIVATE | MS_REC, 0, false, 0},
    {"shared", false, 0, MS_SHARED, 0, false, 0},
    {"rshared", false, 0, MS_SHARED | MS_REC, 0, false, 0},
    {"slave", false, 0, MS_SLAVE, 0, false, 0},
    {"rslave", false, 0, MS_SLAVE | MS_REC, 0, false, 0},
    {"unbindable", false, 0, MS_UNBINDABLE, 0, false, 0},
    {"runbindable", false, 0, MS_UNBINDABLE | MS_REC, 0, false, 0},
    {"rro", false, 0, 0, MOUNT_ATTR_RDONLY, false, 0},
    {"rrw", false, 0, 0, MOUNT_ATTR_RDONLY, true, 0},
    {"rnosuid", false, 0, 0, MOUNT_ATTR_NOSUID, false, 0},
    {"rsuid", false, 0, 0, MOUNT_ATTR_NOSUID, true, 0},
    {"rnodev", false, 0, 0, MOUNT_ATTR_NODEV, false, 0},
    {"rdev", false, 0, 0, MOUNT_ATTR_NODEV, true, 0},
    {"rnoexec", false, 0, 0, MOUNT_ATTR_NOEXEC, false, 0},
    {"rexec", false, 0, 0, MOUNT_ATTR_NOEXEC, true, 0},
    {"rnodiratime", false, 0, 0, MOUNT_ATTR_NODIRATIME, false, 0},
    {"rdiratime", false, 0, 0, MOUNT_ATTR_NODIRATIME, true, 0},
    {"rnoatime", false, 0, 0, MOUNT_ATTR_NOATIME, false, 0},
    {"ratime", false, 0, 0, MOUNT_ATTR__ATIME, true, 0},
    {"rrelatime", false, 0, 0, MOUNT_ATTR__ATIME, true, 0},
    {"rnorelatime", false, 0, 0, MOUNT_ATTR__ATIME, true, 0},
    {"rstrictatime", false, 0, 0, MOUNT_ATTR_STRICTATIME, false, 0},
    {"rnostrictatime", false, 0, 0, MOUNT_ATTR__ATIME, true, 0},
    {"rnosymfollow", false, 0, 0, MOUNT_ATTR_NOSYMFOLLOW, false, 0},
    {"rsymfollow", false, 0, 0, MOUNT_ATTR_NOSYMFOLLOW, true, 0},
    {"tmpcopyup", false, 0, 0, 0, false, OCI_MOUNT_TMPCOPYUP},
    {"idmap", false, 0, 0, 0, false, OCI_MOUNT_IDMAP},
    {"ridmap", false, 0, 0, 0, false, OCI_MOUNT_RIDMAP},
};

static int parse_idmaps(json_t *o, const char *where, const char *key, struct oci_idmap **ret,
                        size_t *ret_n, struct berth_error **err)
{
    json_t *a = NULL;
    int r = jget_arr(o, where, key, false, &a, err);
    if (r < 0 || !a) {
        return r;
    }
    if (json_array_size(a) > 340) {
        /* The kernel takes at most 340 lines in uid_map. */
        return berth_error_set(err, EINVAL, "%s.%s: more than 340 mappings", where, key);
    }
    struct oci_idmap *m = xcalloc(json_array_size(a) + 1, sizeof(*m));
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        char w[128];
        snprintf(w, sizeof(w), "%s.%s[%zu]", where, key, i);
        r = jget_u32(e, w, "containerID", true, &m[i].container_id, err);
        if (r >= 0) {
            r = jget_u32(e, w, "hostID", true, &m[i].host_id, err);
        }
        if (r >= 0) {
            r = jget_u32(e, w, "size", true, &m[i].size, err);
        }
        if (r >= 0 && m[i].size == 0) {
            r = berth_error_set(err, EINVAL, "%s.size: must be positive", w);
        }
        if (r < 0) {
            free(m);
            return r;
        }
    }
    *ret = m;
    *ret_n = json_array_size(a);
    return 0;
}

static int parse_mount(json_t *e, const char *w, struct oci_mount *m, struct berth_error **err)
{
    const char *dst = NULL, *type = NULL, *src = NULL;
    if (!json_is_object(e)) {
        return berth_error_set(err, EINVAL, "%s: expected an object", w);
    }
    int r = jget_str(e, w, "destination", true, &dst, err);
    if (r >= 0) {
        r = jget_str(e, w, "type", false, &type, err);
    }
    if (r >= 0) {
        r = jget_str(e, w, "source", false, &src, err);
    }
    if (r < 0) {
        return r;
    }
    if (!*dst) {
        return berth_error_set(err, EINVAL, "%s.destination: must not be empty", w);
    }
    /* Relative destinations are deprecated in the spec; runc resolves them
     * against "/", and so do we. */
    m->destination = dst[0] == '/' ? xstrdup(dst) : xasprintf("/%s", dst);
    m->type = type && *type ? xstrdup(type) : NULL;
    m->source = src ? xstrdup(src) : NULL;

    _cleanup_strv_free_ char **opts = NULL;
    r = jget_strv(e, w, "options", false, &opts, err);
    if (r < 0) {
        return r;
    }
    struct strbuf data = STRBUF_INIT;
    for (size_t i = 0; opts && opts[i]; i++) {
        const struct mount_opt *o = NULL;
        for (size_t k = 0; k < ARRAY_SIZE(mount_opts); k++) {
            if (streq(mount_opts[k].name, opts[i])) {
                o = &mount_opts[k];
            }
        }
        if (!o) {
            if (data.len) {
                strbuf_addc(&data, ',');
            }
            strbuf_adds(&data, opts[i]);
            continue;
        }
        if (o->clear) {
            m->flags &= ~o->flag;
            m->clear_flags |= o->flag;
        } else {
            m->flags |= o->flag;
            m->clear_flags &= ~o->flag;
        }
        if (o->prop) {
            m->propagation = o->prop;
        }
        if (o->rec_attr) {
            if (o->rec_clear) {
                m->rec_attr_clr |= o->rec_attr;
                m->rec_attr_set &= ~o->rec_attr;
            } else {
                m->rec_attr_set |= o->rec_attr;
                m->rec_attr_clr &= ~o->rec_attr;
            }
            if (o->rec_attr == MOUNT_ATTR_NOATIME || o->rec_attr == MOUNT_ATTR_STRICTATIME) {
                m->rec_attr_clr |= MOUNT_ATTR__ATIME;
            }
        }
        m->attrs |= o->attr;
    }
    m->data = data.len ? strbuf_detach(&data, NULL) : NULL;
    strbuf_release(&data);
    if (m->type && streq(m->type, "bind")) {
        m->flags |= MS_BIND;
        m->attrs |= OCI_MOUNT_BIND;
    }
    if ((m->flags & MS_BIND) && !m->source) {
        return berth_error_set(err, EINVAL, "%s.source: required for a bind mount", w);
    }
    if (!(m->flags & MS_BIND) && !m->type) {
        return berth_error_set(err, EINVAL, "%s.type: required unless the mount is a bind mount",
                               w);
    }
    r = parse_idmaps(e, w, "uidMappings", &m->uid_mappings, &m->n_uid_mappings, err);
    if (r >= 0) {
        r = parse_idmaps(e, w, "gidMappings", &m->gid_mappings, &m->n_gid_mappings, err);
    }
    if (r >= 0 && (m->n_uid_mappings || m->n_gid_mappings) &&
        !(m->attrs & (OCI_MOUNT_IDMAP | OCI_MOUNT_RIDMAP))) {
        /* runc 1.2: mappings imply an idmapped bind mount. */
        m->attrs |= OCI_MOUNT_IDMAP;
    }
    if (r >= 0 && (m->attrs & (OCI_MOUNT_IDMAP | OCI_MOUNT_RIDMAP)) &&
        (!m->n_uid_mappings || !m->n_gid_mappings)) {
        r = berth_error_set(err, EINVAL, "%s: idmap needs uidMappings and gidMappings", w);
    }
    return r;
}

/* ---- hooks ------------------------------------------------------------ */

static int parse_hooks(json_t *j, struct oci_spec *s, struct berth_error **err)
{
    for (int k = 0; k < OCI_HOOK_KIND_MAX; k++) {
        json_t *a = NULL;
        int r = jget_arr(j, "hooks", oci_hook_kind_name(k), false, &a, err);
        if (r < 0) {
            return r;
        }
        if (!a) {
            continue;
        }
        struct oci_hook_list *l = &s->hooks[k];
        l->hooks = xcalloc(json_array_size(a) + 1, sizeof(struct oci_hook));
        size_t i;
        json_t *e;
        json_array_foreach(a, i, e)
        {
            char w[96];
            snprintf(w, sizeof(w), "hooks.%s[%zu]", oci_hook_kind_name(k), i);
            struct oci_hook *h = &l->hooks[l->n++];
            const char *path = NULL;
            int64_t timeout = 0;
            if (!json_is_object(e)) {
                return berth_error_set(err, EINVAL, "%s: expected an object", w);
            }
            r = jget_str(e, w, "path", true, &path, err);
            if (r >= 0) {
                h->path = xstrdup(path);
                r = jget_strv(e, w, "args", false, &h->args, err);
            }
            if (r >= 0) {
                r = jget_strv(e, w, "env", false, &h->env, err);
            }
            if (r >= 0) {
                r = jget_i64(e, w, "timeout", false, &timeout, err);
            }
            if (r < 0) {
                return r;
            }
            if (path[0] != '/') {
                return berth_error_set(err, EINVAL, "%s.path: '%s' is not an absolute path", w,
                                       path);
            }
            if (jhas(e, "timeout") && (timeout < 1 || timeout > 86400)) {
                return berth_error_set(err, EINVAL,
                                       "%s.timeout: must be a positive number of seconds", w);
            }
            h->timeout = (int)timeout;
        }
    }
    return 0;
}

/* ---- linux ------------------------------------------------------------ */

static int parse_namespaces(json_t *a, struct oci_linux *l, struct berth_error **err)
{
    l->namespaces = xcalloc(json_array_size(a) + 1, sizeof(*l->namespaces));
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        char w[64];
        snprintf(w, sizeof(w), "linux.namespaces[%zu]", i);
        const char *type = NULL, *path = NULL;
        if (!json_is_object(e)) {
            return berth_error_set(err, EINVAL, "%s: expected an object", w);
        }
        int r = jget_str(e, w, "type", true, &type, err);
        if (r >= 0) {
            r = jget_str(e, w, "path", false, &path, err);
        }
        if (r < 0) {
            return r;
        }
        int t = ns_type_from_name(type);
        if (t < 0) {
            return berth_error_set(err, EINVAL, "%s.type: unknown namespace type '%s'", w, type);
        }
        for (size_t k = 0; k < l->n_namespaces; k++) {
            if (l->namespaces[k].type == t) {
                return berth_error_set(err, EINVAL, "%s.type: namespace '%s' given twice", w, type);
            }
        }
        if (path && *path && path[0] != '/') {
            return berth_error_set(err, EINVAL, "%s.path: '%s' is not an absolute path", w, path);
        }
        l->namespaces[l->n_namespaces].type = t;
        l->namespaces[l->n_namespaces].path = path && *path ? xstrdup(path) : NULL;
        l->n_namespaces++;
    }
    return 0;
}

static int parse_devices(json_t *a, struct oci_linux *l, struct berth_error **err)
{
    l->devices = xcalloc(json_array_size(a) + 1, sizeof(*l->devices));
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        char w[64];
        snprintf(w, sizeof(w), "linux.devices[%zu]", i);
        struct oci_device *d = &l->devices[l->n_devices];
        const char *type = NULL, *path = NULL;
        if (!json_is_object(e)) {
            return berth_error_set(err, EINVAL, "%s: expected an object", w);
        }
        int r = jget_str(e, w, "type", true, &type, err);
        if (r >= 0) {
            r = jget_str(e, w, "path", true, &path, err);
        }
        if (r < 0) {
            return r;
        }
        if (strlen(type) != 1 || !strchr("cbup", type[0])) {
            return berth_error_set(err, EINVAL, "%s.type: unknown device type '%s'", w, type);
        }
        if (path[0] != '/') {
            return berth_error_set(err, EINVAL, "%s.path: '%s' is not an absolute path", w, path);
        }
        d->type = type[0];
        d->path = xstrdup(path);
        l->n_devices++;
        bool need_numbers = d->type != 'p';
        r = jget_i64(e, w, "major", need_numbers, &d->major, err);
        if (r >= 0) {
            r = jget_i64(e, w, "minor", need_numbers, &d->minor, err);
        }
        if (r < 0) {
            return r;
        }
        if (jhas(e, "fileMode")) {
            uint32_t mode = 0;
            r = jget_u32(e, w, "fileMode", true, &mode, err);
            if (r < 0) {
                return r;
            }
            if (mode > 07777) {
                return berth_error_set(err, EINVAL, "%s.fileMode: %o is not a file mode", w, mode);
            }
            d->has_mode = true;
            d->file_mode = mode;
        }
        uint32_t v = 0;
        if (jhas(e, "uid")) {
            r = jget_u32(e, w, "uid", true, &v, err);
            d->uid = v;
            d->has_uid = true;
        }
        if (r >= 0 && jhas(e, "gid")) {
            r = jget_u32(e, w, "gid", true, &v, err);
            d->gid = v;
            d->has_gid = true;
        }
        if (r < 0) {
            return r;
        }
    }
    return 0;
}

static int parse_propagation(const char *v, unsigned long *ret)
{
    static const struct {
        const char *name;
        unsigned long flags;
    } t[] = {{"private", MS_PRIVATE},       {"rprivate", MS_PRIVATE | MS_REC},
             {"shared", MS_SHARED},         {"rshared", MS_SHARED | MS_REC},
             {"slave", MS_SLAVE},           {"rslave", MS_SLAVE | MS_REC},
             {"unbindable", MS_UNBINDABLE}, {"runbindable", MS_UNBINDABLE | MS_REC}};
    for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
        if (streq(t[i].name, v)) {
            *ret = t[i].flags;
            return 0;
        }
    }
    return -EINVAL;
}

static int parse_time_offsets(json_t *o, struct oci_linux *l, struct berth_error **err)
{
    const char *keys[] = {"monotonic", "boottime"};
    for (size_t k = 0; k < 2; k++) {
        json_t *c = NULL;
        int r = jget_obj(o, "linux.timeOffsets", keys[k], false, &c, err);
        if (r < 0) {
            return r;
        }
        if (!c) {
            continue;
        }
        char w[64];
        snprintf(w, sizeof(w), "linux.timeOffsets.%s", keys[k]);
        int64_t secs = 0;
        uint32_t nsecs = 0;
        r = jget_i64(c, w, "secs", false, &secs, err);
        if (r >= 0) {
            r = jget_u32(c, w, "nanosecs", false, &nsecs, err);
        }
        if (r < 0) {
            return r;
        }
        if (nsecs >= 1000000000u) {
            return berth_error_set(err, EINVAL, "%s.nanosecs: must be below 1000000000", w);
        }
        if (k == 0) {
            l->monotonic_secs = secs;
            l->monotonic_nsecs = nsecs;
        } else {
            l->boottime_secs = secs;
            l->boottime_nsecs = nsecs;
        }
    }
    l->has_time_offsets = true;
    return 0;
}

static int parse_personality(json_t *o, struct oci_linux *l, struct berth_error **err)
{
    const char *domain = NULL;
    int r = jget_str(o, "linux.personality", "domain", true, &domain, err);
    if (r < 0) {
        return r;
    }
    if (streq(domain, "LINUX")) {
        l->personality = PER_LINUX;
    } else if (streq(domain, "LINUX32")) {
        l->personality = PER_LINUX32;
    } else {
        return berth_error_set(err, EINVAL, "linux.personality.domain: unknown domain '%s'",
                               domain);
    }
    l->has_personality = true;
    return 0;
}

static int parse_linux(json_t *j, struct oci_spec *s, struct berth_error **err)
{
    struct oci_linux *l = &s->linux_;
    json_t *a = NULL, *o = NULL;
    int r = jget_arr(j, "linux", "namespaces", false, &a, err);
    if (r >= 0 && a) {
        r = parse_namespaces(a, l, err);
    }
    if (r >= 0) {
        r = parse_idmaps(j, "linux", "uidMappings", &l->uid_mappings, &l->n_uid_mappings, err);
    }
    if (r >= 0) {
        r = parse_idmaps(j, "linux", "gidMappings", &l->gid_mappings, &l->n_gid_mappings, err);
    }
    if (r >= 0) {
        r = jget_obj(j, "linux", "timeOffsets", false, &o, err);
    }
    if (r >= 0 && o) {
        r = parse_time_offsets(o, l, err);
    }
    a = NULL;
    if (r >= 0) {
        r = jget_arr(j, "linux", "devices", false, &a, err);
    }
    if (r >= 0 && a) {
        r = parse_devices(a, l, err);
    }
    const char *str = NULL;
    if (r >= 0) {
        r = jget_str(j, "linux", "cgroupsPath", false, &str, err);
    }
    if (r >= 0 && str && *str) {
        l->cgroups_path = xstrdup(str);
    }
    if (r >= 0) {
        r = jget_obj(j, "linux", "resources", false, &l->resources, err);
    }
    str = NULL;
    if (r >= 0) {
        r = jget_str(j, "linux", "rootfsPropagation", false, &str, err);
    }
    if (r >= 0 && str && *str && parse_propagation(str, &l->rootfs_propagation) < 0) {
        r = berth_error_set(err, EINVAL, "linux.rootfsPropagation: unknown propagation '%s'", str);
    }
    if (r >= 0) {
        r = jget_obj(j, "linux", "seccomp", false, &l->seccomp, err);
    }
    o = NULL;
    if (r >= 0) {
        r = jget_obj(j, "linux", "sysctl", false, &o, err);
    }
    if (r >= 0 && o) {
        l->sysctls = xcalloc(json_object_size(o) + 1, sizeof(*l->sysctls));
        const char *k;
        json_t *v;
        json_object_foreach(o, k, v)
        {
            if (!json_is_string(v)) {
                return berth_error_set(err, EINVAL, "linux.sysctl.%s: expected a string", k);
            }
            if (!*k || strstr(k, "..") || k[0] == '/' || k[0] == '.') {
                return berth_error_set(err, EINVAL, "linux.sysctl: invalid key '%s'", k);
            }
            l->sysctls[l->n_sysctls].key = xstrdup(k);
            l->sysctls[l->n_sysctls].value = xstrdup(json_string_value(v));
            l->n_sysctls++;
        }
    }
    if (r >= 0) {
        r = jget_strv(j, "linux", "maskedPaths", false, &l->masked_paths, err);
    }
    if (r >= 0) {
        r = jget_strv(j, "linux", "readonlyPaths", false, &l->readonly_paths, err);
    }
    str = NULL;
    if (r >= 0) {
        r = jget_str(j, "linux", "mountLabel", false, &str, err);
    }
    if (r >= 0 && str && *str) {
        l->mount_label = xstrdup(str);
    }
    o = NULL;
    if (r >= 0) {
        r = jget_obj(j, "linux", "personality", false, &o, err);
    }
    if (r >= 0 && o) {
        r = parse_personality(o, l, err);
    }
    return r;
}

/* Cross-field rules the schema alone does not express. */
static int validate(struct oci_spec *s, struct berth_error **err)
{
    struct oci_linux *l = &s->linux_;
    const struct oci_namespace *user = oci_spec_namespace(s, CLONE_NEWUSER);
    if (user && !user->path && (!l->n_uid_mappings || !l->n_gid_mappings)) {
        return berth_error_set(err, EINVAL,
                               "linux.uidMappings: a new user namespace needs uidMappings and "
                               "gidMappings");
    }
    if (!user && (l->n_uid_mappings || l->n_gid_mappings)) {
        return berth_error_set(err, EINVAL,
                               "linux.uidMappings: mappings given without a user namespace");
    }
    if (l->has_time_offsets && !oci_spec_namespace(s, CLONE_NEWTIME)) {
        return berth_error_set(err, EINVAL,
                               "linux.timeOffsets: offsets given without a time namespace");
    }
    if (s->hostname && *s->hostname && !oci_spec_namespace(s, CLONE_NEWUTS)) {
        return berth_error_set(err, EINVAL, "hostname: setting it needs a uts namespace");
    }
    for (size_t i = 0; i < l->n_sysctls; i++) {
        const char *k = l->sysctls[i].key;
        /* Docker's and runc's rule: only namespaced sysctls, and only when the
         * container owns the namespace that scopes them. */
        bool ipc = strneq(k, "kernel.msg", 10) || strneq(k, "kernel.sem", 10) ||
                   strneq(k, "kernel.shm", 10) || strneq(k, "fs.mqueue.", 10);
        bool net = strneq(k, "net.", 4);
        bool uts = streq(k, "kernel.hostname") || streq(k, "kernel.domainname");
        if (ipc) {
            const struct oci_namespace *ns = oci_spec_namespace(s, CLONE_NEWIPC);
            if (!ns) {
                return berth_error_set(err, EINVAL, "linux.sysctl: '%s' needs an ipc namespace", k);
            }
        } else if (net) {
            const struct oci_namespace *ns = oci_spec_namespace(s, CLONE_NEWNET);
            if (!ns) {
                return berth_error_set(err, EINVAL, "linux.sysctl: '%s' needs a network namespace",
                                       k);
            }
        } else if (uts) {
            if (!oci_spec_namespace(s, CLONE_NEWUTS)) {
                return berth_error_set(err, EINVAL, "linux.sysctl: '%s' needs a uts namespace", k);
            }
        } else {
            return berth_error_set(
                err, EINVAL, "linux.sysctl: '%s' is not namespaced and would change the host", k);
        }
    }
    return 0;
}

int oci_spec_parse(json_t *doc, const char *bundle, struct oci_spec **ret, struct berth_error **err)
{
    if (!json_is_object(doc)) {
        return berth_error_set(err, EINVAL, "config: expected a JSON object");
    }
    _cleanup_(oci_spec_freep) struct oci_spec *s = xcalloc(1, sizeof(*s));
    s->json = json_incref(doc);
    const char *ver = NULL, *str = NULL;
    int r = jget_str(doc, "", "ociVersion", true, &ver, err);
    if (r < 0) {
        return r;
    }
    if (!strneq(ver, "1.", 2)) {
        return berth_error_set(err, EINVAL, "ociVersion: unsupported version '%s'", ver);
    }
    s->oci_version = xstrdup(ver);

    json_t *root = NULL;
    r = jget_obj(doc, "", "root", true, &root, err);
    if (r >= 0) {
        r = jget_str(root, "root", "path", true, &str, err);
    }
    if (r >= 0) {
        r = jget_bool(root, "root", "readonly", &s->root_readonly, err);
    }
    if (r < 0) {
        return r;
    }
    if (!*str) {
        return berth_error_set(err, EINVAL, "root.path: must not be empty");
    }
    s->root_path = str[0] == '/' ? xstrdup(str) : xasprintf("%s/%s", bundle, str);

    str = NULL;
    r = jget_str(doc, "", "hostname", false, &str, err);
    if (r >= 0 && str) {
        s->hostname = xstrdup(str);
    }
    str = NULL;
    if (r >= 0) {
        r = jget_str(doc, "", "domainname", false, &str, err);
    }
    if (r >= 0 && str) {
        s->domainname = xstrdup(str);
    }
    json_t *proc = NULL;
    if (r >= 0) {
        r = jget_obj(doc, "", "process", false, &proc, err);
    }
    if (r >= 0 && proc) {
        r = oci_process_parse(proc, "process", &s->process, err);
    }
    json_t *mounts = NULL;
    if (r >= 0) {
        r = jget_arr(doc, "", "mounts", false, &mounts, err);
    }
    if (r >= 0 && mounts) {
        s->mounts = xcalloc(json_array_size(mounts) + 1, sizeof(*s->mounts));
        size_t i;
        json_t *e;
        json_array_foreach(mounts, i, e)
        {
            char w[64];
            snprintf(w, sizeof(w), "mounts[%zu]", i);
            s->n_mounts++;
            r = parse_mount(e, w, &s->mounts[i], err);
            if (r < 0) {
                return r;
            }
        }
    }
    json_t *hooks = NULL;
    if (r >= 0) {
        r = jget_obj(doc, "", "hooks", false, &hooks, err);
    }
    if (r >= 0 && hooks) {
        r = parse_hooks(hooks, s, err);
    }
    if (r >= 0) {
        r = jget_obj(doc, "", "annotations", false, &s->annotations, err);
    }
    if (r >= 0 && s->annotations) {
        const char *k;
        json_t *v;
        json_object_foreach(s->annotations, k, v)
        {
            if (!json_is_string(v)) {
                return berth_error_set(err, EINVAL, "annotations.%s: expected a string", k);
            }
        }
    }
    json_t *lin = NULL;
    if (r >= 0) {
        r = jget_obj(doc, "", "linux", false, &lin, err);
    }
    if (r >= 0 && lin) {
        r = parse_linux(lin, s, err);
    }
    if (r >= 0) {
        r = validate(s, err);
    }
    if (r < 0) {
        return r;
    }
    *ret = TAKE_PTR(s);
    return 0;
}

int oci_spec_load(const char *bundle, struct oci_spec **ret, struct berth_error **err)
{
    _cleanup_close_ int dfd = open(bundle, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        return berth_error_sys(err, errno, "open bundle '%s'", bundle);
    }
    _cleanup_json_ json_t *doc = NULL;
    int r = json_load_file_at(dfd, "config.json", OCI_CONFIG_MAX, &doc, err);
    if (r < 0) {
        return r;
    }
    r = oci_spec_parse(doc, bundle, ret, err);
    if (r < 0) {
        return berth_error_prefix(err, "config.json");
    }
    return 0;
}

const struct oci_namespace *oci_spec_namespace(const struct oci_spec *s, int type)
{
    for (size_t i = 0; i < s->linux_.n_namespaces; i++) {
        if (s->linux_.namespaces[i].type == type) {
            return &s->linux_.namespaces[i];
        }
    }
    return NULL;
}

static void free_mount(struct oci_mount *m)
{
    free(m->destination);
    free(m->type);
    free(m->source);
    free(m->data);
    free(m->uid_mappings);
    free(m->gid_mappings);
}

void oci_spec_free(struct oci_spec *s)
{
    if (!s) {
        return;
    }
    free(s->oci_version);
    free(s->root_path);
    free(s->hostname);
    free(s->domainname);
    oci_process_free(s->process);
    for (size_t i = 0; i < s->n_mounts; i++) {
        free_mount(&s->mounts[i]);
    }
    free(s->mounts);
    for (int k = 0; k < OCI_HOOK_KIND_MAX; k++) {
        for (size_t i = 0; i < s->hooks[k].n; i++) {
            free(s->hooks[k].hooks[i].path);
            strv_free(s->hooks[k].hooks[i].args);
            strv_free(s->hooks[k].hooks[i].env);
        }
        free(s->hooks[k].hooks);
    }
    struct oci_linux *l = &s->linux_;
    for (size_t i = 0; i < l->n_namespaces; i++) {
        free(l->namespaces[i].path);
    }
    free(l->namespaces);
    free(l->uid_mappings);
    free(l->gid_mappings);
    for (size_t i = 0; i < l->n_devices; i++) {
        free(l->devices[i].path);
    }
    free(l->devices);
    free(l->cgroups_path);
    for (size_t i = 0; i < l->n_sysctls; i++) {
        free(l->sysctls[i].key);
        free(l->sysctls[i].value);
    }
    free(l->sysctls);
    strv_free(l->masked_paths);
    strv_free(l->readonly_paths);
    free(l->mount_label);
    json_decref(s->json);
    free(s);
}
