#include "container.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sched.h>
#include <sys/un.h>
#include <time.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/parse.h"
#include "basic/strv.h"
#include "cgroup.h"
#include "common/json-util.h"
#include "hooks.h"
#include "linux.h"
#include "mounts.h"
#include "seccomp.h"

int signal_from_string(const char *s)
{
    static const struct {
        const char *name;
        int sig;
    } t[] = {{"HUP", SIGHUP},       {"INT", SIGINT},   {"QUIT", SIGQUIT},     {"ILL", SIGILL},
             {"TRAP", SIGTRAP},     {"ABRT", SIGABRT}, {"IOT", SIGIOT},       {"BUS", SIGBUS},
             {"FPE", SIGFPE},       {"KILL", SIGKILL}, {"USR1", SIGUSR1},     {"SEGV", SIGSEGV},
             {"USR2", SIGUSR2},     {"PIPE", SIGPIPE}, {"ALRM", SIGALRM},     {"TERM", SIGTERM},
             {"STKFLT", SIGSTKFLT}, {"CHLD", SIGCHLD}, {"CONT", SIGCONT},     {"STOP", SIGSTOP},
             {"TSTP", SIGTSTP},     {"TTIN", SIGTTIN}, {"TTOU", SIGTTOU},     {"URG", SIGURG},
             {"XCPU", SIGXCPU},     {"XFSZ", SIGXFSZ}, {"VTALRM", SIGVTALRM}, {"PROF", SIGPROF},
             {"WINCH", SIGWINCH},   {"IO", SIGIO},     {"POLL", SIGPOLL},     {"PWR", SIGPWR},
             {"SYS", SIGSYS}};
    int n;
    if (parse_int(s, &n) == 0) {
        return n > 0 && n < NSIG ? n : -EINVAL;
    }
    if (strneq(s, "SIG", 3)) {
        s += 3;
    }
    for (size_t i = 0; i < ARRAY_SIZE(t); i++) {
        if (!strcasecmp(t[i].name, s)) {
            return t[i].sig;
        }
    }
    if (strneq(s, "RTMIN", 5) || strneq(s, "RTMAX", 5)) {
        int base = s[2] == 'M' && s[3] == 'I' ? SIGRTMIN : SIGRTMAX;
        int off = 0;
        if (s[5] && parse_int(s + 5, &off) < 0) {
            return -EINVAL;
        }
        int sig = base + off;
        return sig >= SIGRTMIN && sig <= SIGRTMAX ? sig : -EINVAL;
    }
    return -EINVAL;
}

static int load(const struct berth_runtime *rt, const char *id, struct container_state **ret,
                struct berth_error **err)
{
    return container_state_load(rt->root, id, ret, err);
}

static int write_pid_file(const char *path, pid_t pid, struct berth_error **err)
{
    char buf[32];
    int n = snprintf(buf, sizeof(buf), "%d", (int)pid);
    /* Written atomically: conmon and containerd poll for the file. */
    _cleanup_free_ char *dir = xstrdup(path);
    char *slash = strrchr(dir, '/');
    const char *name = path;
    _cleanup_close_ int dfd = -1;
    if (slash) {
        *slash = '\0';
        name = slash + 1;
        dfd = open(*dir ? dir : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0) {
            return berth_error_sys(err, errno, "pid file '%s'", path);
        }
    }
    return write_file_replace_at(slash ? dfd : AT_FDCWD, name, buf, (size_t)n, 0644, err);
}

static int connect_console(const char *path, struct berth_error **err)
{
    struct sockaddr_un addr = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof(addr.sun_path)) {
        return berth_error_set(err, ENAMETOOLONG, "console socket path too long '%s'", path);
    }
    memcpy(addr.sun_path, path, strlen(path) + 1);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
        int e = errno;
        safe_close(fd);
        return berth_error_sys(err, e, "connect console socket '%s'", path);
    }
    return fd;
}

/* Wait until pid is gone (not ours to reap: poll), up to timeout_ms. */
static bool wait_gone(pid_t pid, uint64_t start, int timeout_ms)
{
    for (int waited = 0; waited <= timeout_ms; waited += 5) {
        uint64_t st = 0;
        bool zombie = false;
        if (proc_pid_start_time(pid, &st, &zombie) < 0 || zombie || (start && st != start)) {
            return true;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return false;
}

/* Whether the saved config has hooks of this kind, without parsing it all. */
static bool has_hooks(struct container_state *s, enum oci_hook_kind k)
{
    if (s->hook_kinds >= 0 && !(s->hook_kinds & (1 << k))) {
        return false;
    }
    json_t *h = json_object_get(container_state_config(s), "hooks");
    return json_array_size(json_object_get(h, oci_hook_kind_name(k))) > 0;
}

static void run_poststop(struct container_state *s)
{
    if (!has_hooks(s, OCI_HOOK_POSTSTOP)) {
        return;
    }
    _cleanup_(oci_spec_freep) struct oci_spec *spec = NULL;
    _cleanup_error_ struct berth_error *e = NULL;
    if (oci_spec_parse(container_state_config(s), s->bundle ? s->bundle : "", &spec, &e) < 0 ||
        !spec->hooks[OCI_HOOK_POSTSTOP].n) {
        return;
    }
    _cleanup_free_ char *st =
        linux_hook_state(spec, s->id, s->bundle ? s->bundle : "", "stopped", 0);
    /* The spec: a failing poststop hook is a warning; the rest still runs. */
    for (size_t i = 0; i < spec->hooks[OCI_HOOK_POSTSTOP].n; i++) {
        struct oci_hook_list one = {&spec->hooks[OCI_HOOK_POSTSTOP].hooks[i], 1};
        _cleanup_error_ struct berth_error *he = NULL;
        if (hooks_run(&one, OCI_HOOK_POSTSTOP, st, &he) < 0) {
            log_warn("%s", he->msg);
        }
    }
}

/* A frozen task cannot act on SIGKILL: after killing, thaw a paused
 * container so the kill lands (runc does the same). */
static void thaw_if_frozen(struct cgroup *cg)
{
    bool frozen = false;
    if (cgroup_is_frozen(cg, &frozen, NULL) >= 0 && frozen) {
        cgroup_freeze(cg, false, NULL);
    }
}

/* Remove everything a container owns: processes (if force), cgroup, state. */
static int destroy(struct container_state *s, bool force, struct berth_error **err)
{
    _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
    int r = cgroup_new(s->cgroup_path, s->id, s->systemd_cgroup, &cg, err);
    if (r < 0) {
        return r;
    }
    if (force || s->status == STATUS_CREATED) {
        if (s->pid > 0 && s->status != STATUS_STOPPED) {
            kill(s->pid, SIGKILL);
        }
        /* A stopped init with its own pid namespace took every process with
         * it; otherwise (or if anything is left) kill what the cgroup holds. */
        _cleanup_free_ pid_t *left = NULL;
        size_t nleft = 0;
        if (cgroup_get_pids(cg, &left, &nleft, NULL) < 0 || nleft > 0) {
            _cleanup_error_ struct berth_error *ke = NULL;
            cgroup_kill_all(cg, SIGKILL, &ke);
        }
        thaw_if_frozen(cg);
        if (s->pid > 0 && !wait_gone(s->pid, s->pid_start, 5000)) {
            return berth_error_set(err, EBUSY, "container '%s': init %d did not die", s->id,
                                   (int)s->pid);
        }
    }
    r = cgroup_destroy(cg, err);
    if (r < 0) {
        return r;
    }
    run_poststop(s);
    _cleanup_free_ char *parent = xstrdup(s->dir);
    char *slash = strrchr(parent, '/');
    *slash = '\0';
    _cleanup_close_ int pfd = open(*parent ? parent : "/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (pfd < 0) {
        return berth_error_sys(err, errno, "open '%s'", parent);
    }
    return rm_rf_at(pfd, slash + 1, err);
}

static char *seccomp_cache_dir(const struct berth_runtime *rt)
{
    return rt->seccomp_cache ? xstrdup(rt->seccomp_cache) : NULL;
}

int berth_runtime_create(const struct berth_runtime *rt, const struct berth_create_opts *o,
                         pid_t *ret_pid, struct berth_error **err)
{
    log_trace_point("create: start");
    int r = container_id_validate(o->id, err);
    if (r < 0) {
        return r;
    }
    _cleanup_(oci_spec_freep) struct oci_spec *spec = NULL;
    if (o->config) {
        r = oci_spec_parse(o->config, o->bundle, &spec, err);
        if (r < 0) {
            berth_error_prefix(err, "config.json");
        }
    } else {
        r = oci_spec_load(o->bundle, &spec, err);
    }
    if (r < 0) {
        return r;
    }
    log_trace_point("create: config parsed");
    if (!spec->process) {
        return berth_error_set(err, EINVAL, "config.json: process: required to create a container");
    }
    /* Until start, the init waits inside the sealed exec stub; before that it
     * is alone in its new pid namespace. Where that does not hold (no new pid
     * namespace, or startContainer hooks that need berth's code after
     * start), run from a sealed copy (CVE-2019-5736, see linux.h). */
    const struct oci_namespace *pidns = oci_spec_namespace(spec, CLONE_NEWPID);
    if (!pidns || pidns->path || spec->hooks[OCI_HOOK_START_CONTAINER].n) {
        r = cloned_binary_ensure(err);
        if (r < 0) {
            return r;
        }
    }
    struct stat st;
    if (stat(spec->root_path, &st) < 0) {
        return berth_error_sys(err, errno, "rootfs '%s'", spec->root_path);
    }
    if (!S_ISDIR(st.st_mode)) {
        return berth_error_set(err, ENOTDIR, "rootfs '%s' is not a directory", spec->root_path);
    }
    if (spec->process->terminal && !o->console_socket && o->console_fd < 0) {
        return berth_error_set(err, EINVAL,
                               "process.terminal is set but no --console-socket was given");
    }
    _cleanup_(seccomp_program_freep) struct seccomp_program *sc = NULL;
    if (spec->linux_.seccomp) {
        _cleanup_free_ char *cache = seccomp_cache_dir(rt);
        r = seccomp_program_compile_cached(spec->linux_.seccomp, cache, &sc, err);
        if (r < 0) {
            return r;
        }
    }
    r = mkdir_p(rt->root, 0711, err);
    if (r < 0) {
        return r;
    }
    _cleanup_close_ int rootfd = open(rt->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        return berth_error_sys(err, errno, "open '%s'", rt->root);
    }
    if (mkdirat(rootfd, o->id, 0711) < 0) {
        if (errno == EEXIST) {
            return berth_error_set(err, EEXIST, "container with id '%s' already exists", o->id);
        }
        return berth_error_sys(err, errno, "create state for '%s'", o->id);
    }
    /* From here on, every failure removes what was made. */
    struct container_state s = {.id = (char *)o->id, .dir_fd = -1};
    for (int k = 0; k < OCI_HOOK_KIND_MAX; k++) {
        s.hook_kinds |= spec->hooks[k].n ? 1 << k : 0;
    }
    s.dir = xasprintf("%s/%s", rt->root, o->id);
    _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
    int fifo = -1, console = -1;
    bool cgroup_made = false;
    _cleanup_free_ char *cfg = NULL, *bcfg = NULL;
    s.dir_fd = openat(rootfd, o->id, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (s.dir_fd < 0) {
        r = berth_error_sys(err, errno, "open state dir");
        goto rollback;
    }
    if (mkfifoat(s.dir_fd, "exec.fifo", 0600) < 0) {
        r = berth_error_sys(err, errno, "create exec.fifo");
        goto rollback;
    }
    fifo = openat(s.dir_fd, "exec.fifo", O_RDWR | O_CLOEXEC);
    if (fifo < 0) {
        r = berth_error_sys(err, errno, "open exec.fifo");
        goto rollback;
    }
    /* With the config handed in, the bundle's config.json is that very
     * document, just written by the caller: link it rather than encode and
     * write it again (same file system: both live in the runroot). */
    bcfg = o->config ? xasprintf("%s/config.json", o->bundle) : NULL;
    if (!bcfg || linkat(AT_FDCWD, bcfg, s.dir_fd, "config.json", 0) < 0) {
        cfg = json_dumps(spec->json, JSON_COMPACT);
        r = write_file_replace_at(s.dir_fd, "config.json", cfg, strlen(cfg), 0600, err);
        if (r < 0) {
            goto rollback;
        }
    }
    log_trace_point("create: state dir made");
    r = cgroup_new(spec->linux_.cgroups_path, o->id, rt->systemd_cgroup, &cg, err);
    if (r >= 0 && !o->cgroup_prepared) {
        r = cgroup_create(cg, err);
    }
    if (r < 0) {
        goto rollback;
    }
    cgroup_made = true;
    log_trace_point("create: cgroup made");
    r = cgroup_apply_resources(cg, spec->linux_.resources, err);
    if (r < 0) {
        goto rollback;
    }
    if (o->console_socket) {
        console = connect_console(o->console_socket, err);
        if (console < 0) {
            r = console;
            goto rollback;
        }
    }
    struct linux_spawn sp = {
        .spec = spec,
        .process = spec->process,
        .id = o->id,
        .bundle = o->bundle,
        .fifo_fd = fifo,
        .console_socket = console >= 0 ? console : o->console_fd,
        .preserve_fds = o->preserve_fds,
        .no_pivot = o->no_pivot,
        .no_new_keyring = o->no_new_keyring,
        .seccomp = sc,
        .cgroup = cg,
    };
    log_trace_point("create: cgroup ready");
    r = linux_create(&sp, err);
    log_trace_point("create: init ready");
    if (r < 0) {
        goto rollback;
    }
    s.pid = sp.pid;
    proc_pid_start_time(sp.pid, &s.pid_start, NULL);
    s.bundle = (char *)o->bundle;
    s.rootfs = spec->root_path;
    s.created = rfc3339_now();
    s.cgroup_path = (char *)cgroup_path(cg);
    s.systemd_cgroup = rt->systemd_cgroup;
    s.use_terminal = spec->process->terminal;
    s.owner = getuid();
    s.annotations = spec->annotations;
    r = container_state_save(&s, err);
    free(s.created);
    if (r >= 0 && o->pid_file) {
        r = write_pid_file(o->pid_file, sp.pid, err);
    }
    if (r < 0) {
        kill(sp.pid, SIGKILL);
        goto rollback;
    }
    safe_close(fifo);
    safe_close(console);
    safe_close(s.dir_fd);
    free(s.dir);
    if (ret_pid) {
        *ret_pid = sp.pid;
    }
    return 0;

rollback:
    safe_close(fifo);
    safe_close(console);
    if (cgroup_made) {
        _cleanup_error_ struct berth_error *ce = NULL;
        cgroup_kill_all(cg, SIGKILL, &ce);
        cgroup_destroy(cg, &ce);
    }
    safe_close(s.dir_fd);
    rm_rf_at(rootfd, o->id, NULL);
    free(s.dir);
    return r;
}

int berth_runtime_cgroup_prepare(const struct berth_runtime *rt, const char *cgroups_path,
                                 const char *id, struct berth_error **err)
{
    _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
    int r = cgroup_new(cgroups_path, id, rt->systemd_cgroup, &cg, err);
    return r < 0 ? r : cgroup_create(cg, err);
}

void berth_runtime_cgroup_discard(const struct berth_runtime *rt, const char *cgroups_path,
                                  const char *id)
{
    _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
    _cleanup_error_ struct berth_error *e = NULL;
    if (cgroup_new(cgroups_path, id, rt->systemd_cgroup, &cg, &e) >= 0) {
        (void)cgroup_destroy(cg, &e);
    }
}

void berth_runtime_precreate_binds(const char *rootfs, const char *const *dests)
{
    _cleanup_close_ int rootfd = open(rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
    for (size_t i = 0; rootfd >= 0 && dests && dests[i]; i++) {
        _cleanup_error_ struct berth_error *e = NULL;
        (void)rootfs_precreate_file(rootfd, dests[i], &e);
    }
}

int berth_runtime_start_created(const struct berth_runtime *rt, const char *id,
                                struct berth_error **err)
{
    int r = container_id_validate(id, err);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *dir = xasprintf("%s/%s", rt->root, id);
    _cleanup_close_ int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    _cleanup_close_ int fd =
        dfd < 0 ? -1 : openat(dfd, "exec.fifo", O_WRONLY | O_NONBLOCK | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return berth_error_sys(err, errno, "container '%s' is not waiting to start", id);
    }
    if (write(fd, "0", 1) != 1) {
        return berth_error_sys(err, errno, "start container '%s'", id);
    }
    unlinkat(dfd, "exec.fifo", 0);
    return 0;
}

int berth_runtime_start(const struct berth_runtime *rt, const char *id, struct berth_error **err)
{
    _cleanup_(container_state_freep) struct container_state *s = NULL;
    int r = load(rt, id, &s, err);
    if (r < 0) {
        return r;
    }
    r = container_state_lock(s, err);
    if (r < 0) {
        return r;
    }
    container_state_refresh(s);
    if (s->status != STATUS_CREATED) {
        if (s->status == STATUS_STOPPED) {
            return berth_error_set(err, EINVAL, "cannot start a container that has stopped");
        }
        return berth_error_set(err, EINVAL, "cannot start an already running container");
    }
    _cleanup_close_ int fd = openat(s->dir_fd, "exec.fifo", O_WRONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        return berth_error_sys(err, errno, "container '%s' is not waiting to start", id);
    }
    if (write(fd, "0", 1) != 1) {
        return berth_error_sys(err, errno, "start container '%s'", id);
    }
    unlinkat(s->dir_fd, "exec.fifo", 0);
    if (has_hooks(s, OCI_HOOK_POSTSTART)) {
        _cleanup_(oci_spec_freep) struct oci_spec *spec = NULL;
        _cleanup_error_ struct berth_error *e = NULL;
        if (oci_spec_parse(container_state_config(s), s->bundle ? s->bundle : "", &spec, &e) >= 0 &&
            spec->hooks[OCI_HOOK_POSTSTART].n) {
            _cleanup_free_ char *st =
                linux_hook_state(spec, id, s->bundle ? s->bundle : "", "running", s->pid);
            if (hooks_run(&spec->hooks[OCI_HOOK_POSTSTART], OCI_HOOK_POSTSTART, st, &e) < 0) {
                log_warn("%s", e->msg);
            }
        }
    }
    return 0;
}

int berth_runtime_state(const struct berth_runtime *rt, const char *id,
                        struct container_state **ret, struct berth_error **err)
{
    return load(rt, id, ret, err);
}

int berth_runtime_kill(const struct berth_runtime *rt, const char *id, int sig, bool all,
                       struct berth_error **err)
{
    _cleanup_(container_state_freep) struct container_state *s = NULL;
    int r = load(rt, id, &s, err);
    if (r < 0) {
        return r;
    }
    _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
    if (all) {
        r = cgroup_new(s->cgroup_path, s->id, s->systemd_cgroup, &cg, err);
        if (r >= 0) {
            r = cgroup_kill_all(cg, sig, err);
        }
        if (r >= 0 && sig == SIGKILL) {
            thaw_if_frozen(cg);
        }
        return r;
    }
    if (s->status == STATUS_STOPPED || s->status == STATUS_CREATING) {
        return berth_error_set(err, ESRCH, "container '%s' is not running", id);
    }
    if (kill(s->pid, sig) < 0) {
        return berth_error_sys(err, errno, "kill container '%s'", id);
    }
    if (sig == SIGKILL && s->status == STATUS_PAUSED &&
        cgroup_new(s->cgroup_path, s->id, s->systemd_cgroup, &cg, NULL) >= 0) {
        thaw_if_frozen(cg);
    }
    return 0;
}

int berth_runtime_delete(const struct berth_runtime *rt, const char *id, bool force,
                         struct berth_error **err)
{
    _cleanup_(container_state_freep) struct container_state *s = NULL;
    int r = load(rt, id, &s, err);
    if (r < 0) {
        return r;
    }
    r = container_state_lock(s, err);
    if (r < 0) {
        return r;
    }
    container_state_refresh(s);
    if ((s->status == STATUS_RUNNING || s->status == STATUS_PAUSED) && !force) {
        return berth_error_set(err, EBUSY, "cannot delete container '%s' that is not stopped: %s",
                               id, container_status_name(s->status));
    }
    return destroy(s, force, err);
}

static int with_cgroup(const struct berth_runtime *rt, const char *id,
                       int (*fn)(struct cgroup *, struct container_state *, void *,
                                 struct berth_error **),
                       void *data, struct berth_error **err)
{
    _cleanup_(container_state_freep) struct container_state *s = NULL;
    int r = load(rt, id, &s, err);
    if (r < 0) {
        return r;
    }
    _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
    r = cgroup_new(s->cgroup_path, s->id, s->systemd_cgroup, &cg, err);
    if (r < 0) {
        return r;
    }
    return fn(cg, s, data, err);
}

static int do_pause(struct cgroup *cg, struct container_state *s, void *data,
                    struct berth_error **err)
{
    bool freeze = *(bool *)data;
    if (freeze && s->status != STATUS_RUNNING) {
        return berth_error_set(err, EINVAL, "container '%s' is not running", s->id);
    }
    if (!freeze && s->status != STATUS_PAUSED) {
        return berth_error_set(err, EINVAL, "container '%s' is not paused", s->id);
    }
    return cgroup_freeze(cg, freeze, err);
}

int berth_runtime_pause(const struct berth_runtime *rt, const char *id, struct berth_error **err)
{
    bool v = true;
    return with_cgroup(rt, id, do_pause, &v, err);
}

int berth_runtime_resume(const struct berth_runtime *rt, const char *id, struct berth_error **err)
{
    bool v = false;
    return with_cgroup(rt, id, do_pause, &v, err);
}

static int do_update(struct cgroup *cg, struct container_state *s, void *data,
                     struct berth_error **err)
{
    if (s->status == STATUS_STOPPED) {
        return berth_error_set(err, EINVAL, "container '%s' is not running", s->id);
    }
    return cgroup_apply_resources(cg, data, err);
}

int berth_runtime_update(const struct berth_runtime *rt, const char *id, json_t *resources,
                         struct berth_error **err)
{
    return with_cgroup(rt, id, do_update, resources, err);
}

struct pids_out {
    pid_t *pids;
    size_t n;
};

static int do_pids(struct cgroup *cg, struct container_state *s, void *data,
                   struct berth_error **err)
{
    struct pids_out *o = data;
    return cgroup_get_pids(cg, &o->pids, &o->n, err);
}

int berth_runtime_pids(const struct berth_runtime *rt, const char *id, pid_t **ret, size_t *ret_n,
                       struct berth_error **err)
{
    struct pids_out o = {0};
    int r = with_cgroup(rt, id, do_pids, &o, err);
    if (r < 0) {
        return r;
    }
    *ret = o.pids;
    *ret_n = o.n;
    return 0;
}

static int do_stats(struct cgroup *cg, struct container_state *s, void *data,
                    struct berth_error **err)
{
    if (s->status == STATUS_STOPPED) {
        return berth_error_set(err, EINVAL, "container '%s' is not running", s->id);
    }
    return cgroup_get_stats(cg, data, err);
}

int berth_runtime_stats(const struct berth_runtime *rt, const char *id, struct cgroup_stats *ret,
                        struct berth_error **err)
{
    return with_cgroup(rt, id, do_stats, ret, err);
}

static int cmp_state(const void *a, const void *b)
{
    return strcmp((*(struct container_state *const *)a)->id,
                  (*(struct container_state *const *)b)->id);
}

int berth_runtime_list(const struct berth_runtime *rt, struct container_state ***ret, size_t *ret_n,
                       struct berth_error **err)
{
    *ret = NULL;
    *ret_n = 0;
    DIR *d = opendir(rt->root);
    if (!d) {
        return errno == ENOENT ? 0 : berth_error_sys(err, errno, "open '%s'", rt->root);
    }
    struct container_state **v = NULL;
    size_t n = 0, alloc = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.' || de->d_type != DT_DIR) {
            continue;
        }
        struct container_state *s = NULL;
        if (container_state_load(rt->root, de->d_name, &s, NULL) < 0) {
            continue;
        }
        v = xgrow(v, sizeof(*v), n, &alloc);
        v[n++] = s;
    }
    closedir(d);
    if (n) {
        qsort(v, n, sizeof(*v), cmp_state);
    }
    *ret = v;
    *ret_n = n;
    return 0;
}

int berth_runtime_exec_process(const struct berth_runtime *rt, const char *id, char **args,
                               struct oci_process **ret, struct berth_error **err)
{
    _cleanup_(container_state_freep) struct container_state *s = NULL;
    int r = load(rt, id, &s, err);
    if (r < 0) {
        return r;
    }
    json_t *proc = json_object_get(container_state_config(s), "process");
    if (!proc) {
        return berth_error_set(err, EINVAL, "container '%s' has no process config", id);
    }
    /* runc's exec defaults: the container's process with new args and no
     * terminal unless asked. */
    _cleanup_json_ json_t *copy = json_deep_copy(proc);
    json_t *a = json_array();
    for (size_t i = 0; args && args[i]; i++) {
        json_array_append_new(a, json_string(args[i]));
    }
    json_object_set_new(copy, "args", a);
    json_object_set_new(copy, "terminal", json_false());
    return oci_process_parse(copy, "process", ret, err);
}

int berth_runtime_exec(const struct berth_runtime *rt, const struct berth_exec_opts *o,
                       pid_t *ret_pid, struct berth_error **err)
{
    _cleanup_(container_state_freep) struct container_state *s = NULL;
    int r = load(rt, o->id, &s, err);
    if (r < 0) {
        return r;
    }
    /* Not into a created container: its init has not exec'd yet and runs
     * the host's berth binary, which no container process may see. */
    if (s->status != STATUS_RUNNING) {
        return berth_error_set(err, EINVAL, "cannot exec in a %s container%s",
                               container_status_name(s->status),
                               s->status == STATUS_CREATED ? ": start it first" : "");
    }
    r = cloned_binary_ensure(err);
    if (r < 0) {
        return r;
    }
    if (!container_state_config(s)) {
        return berth_error_set(err, EINVAL, "container '%s' has no saved config", o->id);
    }
    _cleanup_(oci_spec_freep) struct oci_spec *spec = NULL;
    r = oci_spec_parse(container_state_config(s), s->bundle ? s->bundle : "", &spec, err);
    if (r < 0) {
        return r;
    }
    if (o->process->terminal && !o->console_socket && o->console_fd < 0) {
        return berth_error_set(err, EINVAL, "terminal requested but no --console-socket given");
    }
    _cleanup_(seccomp_program_freep) struct seccomp_program *sc = NULL;
    if (spec->linux_.seccomp) {
        _cleanup_free_ char *cache = seccomp_cache_dir(rt);
        r = seccomp_program_compile_cached(spec->linux_.seccomp, cache, &sc, err);
        if (r < 0) {
            return r;
        }
    }
    _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
    r = cgroup_new(s->cgroup_path, s->id, s->systemd_cgroup, &cg, err);
    if (r < 0) {
        return r;
    }
    _cleanup_close_ int console = -1;
    if (o->console_socket) {
        console = connect_console(o->console_socket, err);
        if (console < 0) {
            return console;
        }
    }
    struct linux_spawn sp = {
        .spec = spec,
        .process = o->process,
        .id = o->id,
        .bundle = s->bundle,
        .fifo_fd = -1,
        .console_socket = console >= 0 ? console : o->console_fd,
        .preserve_fds = o->preserve_fds,
        .seccomp = sc,
        .cgroup = cg,
        .join_pid = s->pid,
    };
    r = linux_exec(&sp, err);
    if (r < 0) {
        return r;
    }
    if (o->pid_file) {
        r = write_pid_file(o->pid_file, sp.pid, err);
        if (r < 0) {
            return r;
        }
    }
    if (ret_pid) {
        *ret_pid = sp.pid;
    }
    return 0;
}
