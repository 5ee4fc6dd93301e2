/* lifecycle.c - create, start with the monitor, stop, kill, wait, remove,
 * the exit handler, status and inspect (see lifecycle.h). */
#include "lifecycle.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/chase.h"
#include "basic/fileio.h"
#include "basic/log.h"
#include "basic/parse.h"
#include "basic/strbuf.h"
#include "basic/strv.h"
#include "basic/thread.h"
#include "basic/units.h"
#include "libberth/common/json-util.h"
#include "libberth/container/health.h"
#include "libberth/container/account.h"
#include "libberth/container/monitor.h"
#include "libberth/container/network-attach.h"
#include "libberth/container/oci-spec.h"
#include "libberth/container/volume-mounts.h"
#include "libberth/image/images.h"
#include "libberth/runtime/cgroup.h"
#include "libberth/runtime/container.h"

#define ZERO_TIME "0001-01-01T00:00:00Z"
#define READY_MAX 4096
#define DEFAULT_STOP_TIMEOUT 10
#define KILL_WAIT_MS 10000

static char *bundle_dir(struct store *s, const char *id)
{
    return xasprintf("%s/containers/%s", s->runroot, id);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static const char *body_str(json_t *body, const char *key)
{
    return json_string_value(json_object_get(body, key));
}

static json_t *host_config(json_t *body)
{
    return json_object_get(body, "HostConfig");
}

/* "stopped by user": a `stop` or `kill` leaves this file (content "stop" or
 * "kill") in the container's persistent dir before it signals, so the exit
 * handler does not undo it by restarting, and `system boot` skips an
 * unless-stopped container that was stopped. A user `start` removes it. It
 * is a file beside state.json rather than a state field: the state file is
 * rewritten by whoever reads it last, a flag must not be lost that way. */
static char *stopped_flag_path(struct store *s, const char *id)
{
    return xasprintf("%s/containers/%s/stopped-by-user", s->root, id);
}

static void set_stopped_by_user(struct store *s, const char *id, const char *how)
{
    _cleanup_free_ char *p = stopped_flag_path(s, id);
    (void)write_file_replace_at(AT_FDCWD, p, how, strlen(how), 0600, NULL);
}

/* NULL when not stopped by the user, else "stop" or "kill" (malloc'd). */
static char *stopped_by_user(struct store *s, const char *id)
{
    _cleanup_free_ char *p = stopped_flag_path(s, id);
    char *v = NULL;
    size_t n;
    if (read_file_at(AT_FDCWD, p, 16, &v, &n, NULL) < 0) {
        return NULL;
    }
    return v;
}

static void clear_stopped_by_user(struct store *s, const char *id)
{
    _cleanup_free_ char *p = stopped_flag_path(s, id);
    (void)unlink(p);
}

/* ---- create ---------------------------------------------------------- */

int container_create(struct store *s, json_t *body, const char *name, char **ret_id,
                     struct berth_error **err)
{
    log_trace_point("create container: start");
    const char *image = body_str(body, "Image");
    if (!image || !*image) {
        return berth_error_set(err, EINVAL, "No image specified");
    }
    _cleanup_free_ char *image_id = NULL;
    int r = image_resolve(s, image, &image_id, err);
    if (r < 0) {
        return r;
    }
    _cleanup_(container_record_freep) struct container_record *c = NULL;
    r = container_record_create(s, body, name, image_id, image, &c, err);
    if (r < 0) {
        return r;
    }
    struct container_state_file st = {.status = (char *)"created"};
    r = container_mounts_create(s, c->id, body, image_id, err);
    if (r >= 0) {
        r = network_attach_create(s, c->id, c->name, body, err);
    }
    if (r >= 0) {
        r = container_state_write(s->root, c->id, &st, err);
    }
    if (r < 0) {
        (void)container_remove_with_volumes(s, c->id, NULL);
        return r;
    }
    *ret_id = xstrdup(c->id);
    return 0;
}

/* ---- devices given with --device: host node numbers -------------------- */

static int host_devices(json_t *hc, struct oci_spec_device **ret, size_t *ret_n,
                        struct berth_error **err)
{
    json_t *devs = json_object_get(hc, "Devices");
    size_t n = json_array_size(devs);
    struct oci_spec_device *d = xcalloc(n + 1, sizeof(*d));
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(devs, i);
        const char *host = body_str(e, "PathOnHost");
        const char *in = body_str(e, "PathInContainer");
        const char *perms = body_str(e, "CgroupPermissions");
        struct stat st;
        if (!host || stat(host, &st) < 0) {
            int e2 = host ? errno : EINVAL;
            free(d);
            return berth_error_sys(err, e2,
                                   "error gathering device information while adding "
                                   "custom device \"%s\"",
                                   host ? host : "");
        }
        if (!S_ISCHR(st.st_mode) && !S_ISBLK(st.st_mode)) {
            free(d);
            return berth_error_set(err, EINVAL, "\"%s\" is not a device node", host);
        }
        d[i] = (struct oci_spec_device){
            .path_in_container = in && *in ? in : host,
            .type = S_ISCHR(st.st_mode) ? 'c' : 'b',
            .major = major(st.st_rdev),
            .minor = minor(st.st_rdev),
            .file_mode = st.st_mode & 07777,
            .uid = st.st_uid,
            .gid = st.st_gid,
            .permissions = perms && *perms ? perms : "rwm",
        };
    }
    *ret = d;
    *ret_n = n;
    return 0;
}

/* ---- the OCI bundle -------------------------------------------------- */

/* berth-init (init-stub.c), embedded by meson. */
extern const unsigned char berth_init_stub[];
extern const size_t berth_init_stub_len;

/* <runroot>/berth-init for HostConfig.Init: written once, replaced (by a
 * rename, so a running container's bind keeps its old inode) only when it
 * differs from the embedded copy, e.g. after an upgrade. */
static int ensure_init_binary(struct store *s, char **ret, struct berth_error **err)
{
    _cleanup_free_ char *path = xasprintf("%s/berth-init", s->runroot);
    _cleanup_free_ char *have = NULL;
    size_t n = 0;
    struct stat st;
    if (read_file_at(AT_FDCWD, path, berth_init_stub_len + 1, &have, &n, NULL) < 0 ||
        n != berth_init_stub_len || memcmp(have, berth_init_stub, n) != 0 || lstat(path, &st) < 0 ||
        !S_ISREG(st.st_mode) || (st.st_mode & 07777) != 0755) {
        int r =
            write_file_replace_at(AT_FDCWD, path, berth_init_stub, berth_init_stub_len, 0755, err);
        if (r < 0) {
            return r;
        }
    }
    *ret = TAKE_PTR(path);
    return 0;
}

static int connect_attach(const char *path, struct berth_error **err);
static int send_handoff(const char *ctl_path);

/* Where a container's cgroup is, in every hierarchy. */
static char *cgroups_path(const char *id)
{
    return xasprintf("/berth/%s", id);
}

/* The container's cgroup made by a thread (berth_runtime_cgroup_prepare)
 * while this one mounts the rootfs and writes the bundle: on a v1 host the
 * ten mkdirs are ~0.6 ms the critical path no longer waits for. The monitor
 * is started once the cgroup is there (cgroup_prep_wait); the cgroup is
 * removed again unless the container was created (the runtime owns it from
 * there).
 *
 * Then, for an attached start, the same thread connects to the attach
 * socket and sends the monitor the exit handoff (both are queued until the
 * monitor stub reads them): it does so while this thread is suspended in
 * the monitor's vfork-style start and the init sets itself up, when the
 * second CPU is otherwise idle. Its fds are CLOEXEC: a monitor or init
 * that inherits one drops it at its exec. */
struct cgroup_prep {
    struct berth_runtime rt;
    char *path;
    const char *id;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool started, joined, made, keep;
    bool cgroup_done, job_posted; /* under mu */
    /* the job after the cgroup (posted under mu) and its results */
    char *sock, *ctl;
    char *rootfs;   /* with binds: file bind destinations to make */
    char *binds[4]; /* NULL-terminated */
    bool want_attach, want_handoff;
    int attach_fd, attach_errno, handoff_fd;
};

static void *cgroup_prep_thread(void *arg)
{
    struct cgroup_prep *p = arg;
    bool made = berth_runtime_cgroup_prepare(&p->rt, p->path, p->id, NULL) >= 0;
    pthread_mutex_lock(&p->mu);
    p->made = made;
    p->cgroup_done = true;
    pthread_cond_broadcast(&p->cv);
    while (!p->job_posted) {
        pthread_cond_wait(&p->cv, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    if (p->rootfs && p->binds[0]) {
        berth_runtime_precreate_binds(p->rootfs, (const char *const *)p->binds);
    }
    if (p->want_attach) {
        struct berth_error *e = NULL;
        p->attach_fd = connect_attach(p->sock, &e);
        p->attach_errno = e ? e->code : 0;
        berth_error_free(e);
        if (p->attach_fd >= 0 && p->want_handoff) {
            p->handoff_fd = send_handoff(p->ctl);
        }
    }
    return NULL;
}

static void cgroup_prep_start(struct cgroup_prep *p, struct store *s, const char *id)
{
    *p = (struct cgroup_prep){.rt = container_runtime(s),
                              .path = cgroups_path(id),
                              .id = id,
                              .attach_fd = -1,
                              .handoff_fd = -1};
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->started = thread_start(&p->thread, cgroup_prep_thread, p) == 0;
}

/* Hand the thread its second job (want_attach false and no spec: none).
 * Once only. The file bind destinations it makes are those of the config
 * among /etc/hosts, /etc/hostname and /etc/resolv.conf (berth's own). */
static void cgroup_prep_post(struct cgroup_prep *p, const char *rootfs, json_t *spec,
                             const char *sock, const char *ctl, bool want_attach, bool want_handoff)
{
    if (!p->started) {
        return;
    }
    pthread_mutex_lock(&p->mu);
    if (!p->job_posted) {
        size_t i, n = 0;
        json_t *m;
        json_array_foreach(json_object_get(spec, "mounts"), i, m)
        {
            const char *d = json_string_value(json_object_get(m, "destination"));
            const char *t = json_string_value(json_object_get(m, "type"));
            if (d && t && streq(t, "bind") && n < ARRAY_SIZE(p->binds) - 1 &&
                (streq(d, "/etc/hosts") || streq(d, "/etc/hostname") ||
                 streq(d, "/etc/resolv.conf"))) {
                p->binds[n++] = xstrdup(d);
            }
        }
        p->binds[n] = NULL;
        /* Copies: the thread may outlive the caller's strings (a detached
         * start joins it at the very end). */
        p->rootfs = rootfs ? xstrdup(rootfs) : NULL;
        p->sock = sock ? xstrdup(sock) : NULL;
        p->ctl = ctl ? xstrdup(ctl) : NULL;
        p->want_attach = want_attach;
        p->want_handoff = want_handoff;
        p->job_posted = true;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
}

/* Wait until the cgroup is made (or the thread gave up): whether it is
 * ready for the runtime. */
static bool cgroup_prep_wait(struct cgroup_prep *p)
{
    if (!p->started) {
        return false;
    }
    pthread_mutex_lock(&p->mu);
    while (!p->cgroup_done) {
        pthread_cond_wait(&p->cv, &p->mu);
    }
    bool made = p->made;
    pthread_mutex_unlock(&p->mu);
    return made;
}

static void cgroup_prep_join(struct cgroup_prep *p)
{
    if (p->started && !p->joined) {
        cgroup_prep_post(p, NULL, NULL, NULL, NULL, false, false);
        pthread_join(p->thread, NULL);
        p->joined = true;
    }
}

static void cgroup_prep_finish(struct cgroup_prep *p)
{
    if (p->started) {
        cgroup_prep_join(p);
        if (!p->keep) {
            /* Whatever the thread (or the monitor) made of it. */
            berth_runtime_cgroup_discard(&p->rt, p->path, p->id);
        }
        safe_close(p->attach_fd);
        safe_close(p->handoff_fd);
        free(p->rootfs), free(p->sock), free(p->ctl);
        for (size_t i = 0; p->binds[i]; i++) {
            free(p->binds[i]);
        }
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->cv);
    }
    free(p->path);
}

struct container_start_prep {
    char *id;
    struct cgroup_prep cgp;
};

struct container_start_prep *container_start_prep_new(struct store *s, const char *id)
{
    struct container_start_prep *p = xcalloc(1, sizeof(*p));
    p->id = xstrdup(id);
    cgroup_prep_start(&p->cgp, s, p->id);
    return p;
}

void container_start_prep_free(struct container_start_prep *p)
{
    if (!p) {
        return;
    }
    cgroup_prep_finish(&p->cgp);
    free(p->id);
    free(p);
}

/* Writes the bundle's config.json; *ret_spec (may be NULL) gets the
 * document too, for the monitor (a fork of this process) to create the
 * container from without reading it back. */
static int write_bundle(struct store *s, const struct container_record *c, const char *rootfs,
                        int netns_fd, json_t **ret_spec, struct berth_error **err)
{
    const struct image_config *config = NULL;
    int r = image_config_get(s, c->image_id, &config, err);
    if (r < 0) {
        return r;
    }
    log_trace_point("bundle: image read");
    _cleanup_close_ int rootfd = open(rootfs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootfd < 0) {
        return berth_error_sys(err, errno, "open rootfs '%s'", rootfs);
    }
    json_t *hc = host_config(c->body);
    struct oci_spec_context ctx = {
        .id = c->id,
        .rootfs = rootfs,
    };
    _cleanup_free_ char *dir = xasprintf("%s/containers/%s", s->root, c->id);
    _cleanup_free_ char *hosts = xasprintf("%s/hosts", dir);
    _cleanup_free_ char *hostname = xasprintf("%s/hostname", dir);
    _cleanup_free_ char *resolv = xasprintf("%s/resolv.conf", dir);
    _cleanup_free_ char *cgpath = cgroups_path(c->id);
    ctx.hosts_path = hosts;
    ctx.hostname_path = hostname;
    ctx.resolv_conf_path = resolv;
    ctx.cgroups_path = cgpath;
    enum cgroup_mode mode;
    ctx.cgroup2 = cgroup_detect_mode(&mode, NULL) >= 0 && mode == CGROUP_MODE_UNIFIED;
    const char *user = body_str(c->body, "User");
    if ((!user || !*user) && config) {
        user = config->user;
    }
    struct container_user cu;
    log_trace_point("bundle: cgroup mode");
    r = container_user_resolve(rootfd, user, json_object_get(hc, "GroupAdd"), &cu, err);
    if (r < 0) {
        return r;
    }
    log_trace_point("bundle: user resolved");
    _cleanup_free_ gid_t *gids = cu.gids;
    ctx.user = (struct oci_spec_user){
        .uid = cu.uid, .gid = cu.gid, .additional_gids = cu.gids, .n_additional_gids = cu.n_gids};
    _cleanup_free_ struct oci_spec_device *devs = NULL;
    r = host_devices(hc, &devs, &ctx.n_devices, err);
    if (r < 0) {
        return r;
    }
    ctx.devices = devs;
    _cleanup_free_ char *init_path = NULL;
    if (json_is_true(json_object_get(hc, "Init")) &&
        (r = ensure_init_binary(s, &init_path, err)) < 0) {
        return r;
    }
    ctx.init_path = init_path;
    _cleanup_json_ json_t *vmounts = NULL;
    r = container_mounts_oci(s, c->id, rootfd, &vmounts, err);
    if (r < 0) {
        return r;
    }
    ctx.extra_mounts = vmounts;
    _cleanup_free_ char *netns = NULL;
    if ((r = network_attach_netns(s, c->body, &netns, err)) < 0) {
        return r;
    }
    const char *net_mode = body_str(hc, "NetworkMode");
    _cleanup_free_ char *shared = NULL, *shosts = NULL, *shostname = NULL, *sresolv = NULL;
    if (netns && net_mode && strneq(net_mode, "container:", 10) &&
        container_resolve(s, net_mode + 10, &shared, NULL) >= 0) {
        /* Docker's: a container in another's network namespace sees that
         * one's hosts, hostname and resolv.conf files. */
        shosts = xasprintf("%s/containers/%s/hosts", s->root, shared);
        shostname = xasprintf("%s/containers/%s/hostname", s->root, shared);
        sresolv = xasprintf("%s/containers/%s/resolv.conf", s->root, shared);
        ctx.hosts_path = shosts;
        ctx.hostname_path = shostname;
        ctx.resolv_conf_path = sresolv;
    }
    if (!netns && netns_fd >= 0) {
        /* The prepared namespace, by the fd the monitor (a fork of this
         * process) inherits. */
        netns = xasprintf("/proc/self/fd/%d", netns_fd);
    }
    ctx.netns_path = netns;
    log_trace_point("bundle: inputs ready");
    _cleanup_json_ json_t *spec = NULL;
    r = container_oci_spec(c->body, config, &ctx, &spec, err);
    if (r < 0) {
        return r;
    }
    log_trace_point("bundle: spec made");
    _cleanup_free_ char *bdir = bundle_dir(s, c->id);
    r = mkdir_p(bdir, 0700, err);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *text = json_dumps(spec, JSON_COMPACT);
    _cleanup_free_ char *cfg = xasprintf("%s/config.json", bdir);
    r = write_file_replace_at(AT_FDCWD, cfg, text, strlen(text), 0600, err);
    if (r >= 0 && ret_spec) {
        *ret_spec = TAKE_PTR(spec);
    }
    return r;
}

/* ---- start: the monitor ------------------------------------------------ */

/* A unix socket address for path: long store paths exceed sun_path (108
 * bytes), so the directory is reached through a descriptor,
 * "/proc/self/fd/N/<name>", which the kernel resolves at bind/connect. */
static int sock_addr(const char *path, struct sockaddr_un *sa, int *ret_dirfd,
                     struct berth_error **err)
{
    *sa = (struct sockaddr_un){.sun_family = AF_UNIX};
    *ret_dirfd = -1;
    if (strlen(path) < sizeof(sa->sun_path)) {
        memcpy(sa->sun_path, path, strlen(path) + 1);
        return 0;
    }
    const char *slash = strrchr(path, '/');
    _cleanup_free_ char *dir = xstrndup(path, (size_t)(slash - path));
    int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        return berth_error_sys(err, errno, "open '%s'", dir);
    }
    int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "/proc/self/fd/%d/%s", dfd, slash + 1);
    if (n < 0 || (size_t)n >= sizeof(sa->sun_path)) {
        close(dfd);
        return berth_error_set(err, ENAMETOOLONG, "socket name too long: '%s'", path);
    }
    *ret_dirfd = dfd;
    return 0;
}

static int listen_attach(const char *path, struct berth_error **err)
{
    struct sockaddr_un sa;
    _cleanup_close_ int dfd = -1;
    int r = sock_addr(path, &sa, &dfd, err);
    if (r < 0) {
        return r;
    }
    (void)unlink(path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return berth_error_sys(err, errno, "attach socket");
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 16) < 0) {
        int e = errno;
        close(fd);
        return berth_error_sys(err, e, "attach socket '%s'", path);
    }
    (void)chmod(path, 0600);
    return fd;
}

static int connect_attach(const char *path, struct berth_error **err)
{
    struct sockaddr_un sa;
    _cleanup_close_ int dfd = -1;
    int r = sock_addr(path, &sa, &dfd, err);
    if (r < 0) {
        return r;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return berth_error_sys(err, errno, "attach socket");
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        return berth_error_sys(err, e, "attach to '%s'", path);
    }
    return fd;
}

/* The monitor's control socket (monitor.h): datagrams, so the stub keeps
 * no per-client state. 0600 like attach.sock. */
static int bind_control(const char *path, struct berth_error **err)
{
    struct sockaddr_un sa;
    _cleanup_close_ int dfd = -1;
    int r = sock_addr(path, &sa, &dfd, err);
    if (r < 0) {
        return r;
    }
    (void)unlink(path);
    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return berth_error_sys(err, errno, "control socket");
    }
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int e = errno;
        close(fd);
        return berth_error_sys(err, e, "control socket '%s'", path);
    }
    (void)chmod(path, 0600);
    return fd;
}

/* Receive the pty master the runtime sends over the console socket. */
static int recv_fd(int sock)
{
    char dummy;
    struct iovec iov = {&dummy, 1};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } u;
    struct msghdr m = {
        .msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
    if (recvmsg(sock, &m, MSG_CMSG_CLOEXEC) < 0) {
        return -errno;
    }
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    if (!c || c->cmsg_type != SCM_RIGHTS) {
        return -EBADMSG;
    }
    int fd;
    memcpy(&fd, CMSG_DATA(c), sizeof(fd));
    return fd;
}

static void ready_fail(int ready, struct berth_error *e)
{
    struct strbuf sb = STRBUF_INIT;
    strbuf_addf(&sb, "E%s", e && e->msg ? e->msg : "monitor failed");
    (void)!write(ready, strbuf_str(&sb), sb.len);
    strbuf_release(&sb);
}

struct monitor_setup {
    struct store *s;
    const struct container_record *c;
    const char *bundle;
    json_t *spec; /* the bundle's config.json, parsed */
    int listen_fd, ready_w, ctl_fd;
    unsigned short rows, cols;
    int out_r, out_w, err_r, err_w, in_r, in_w;
    int ready_r; /* the CLI's end, closed in the monitor */
    bool tty, stdin_once, cgroup_prepared;
    void *stack; /* the monitor's, while it shares the CLI's memory */
    size_t stack_size;
};

/* The monitor process (a grandchild of the CLI, in its own session): make
 * the container with the runtime in-process, report "P<monitor> <init>",
 * and become the stub. Never returns. */
static _noreturn_ void monitor_main(struct monitor_setup *m)
{
    struct berth_error *err = NULL;
    struct berth_runtime rt = container_runtime(m->s);
    int console[2] = {-1, -1};
    if (m->tty && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, console) < 0) {
        berth_error_sys(&err, errno, "console socket");
        ready_fail(m->ready_w, err);
        _exit(1);
    }
    /* The init inherits our fds 0-2: the container's stdio. */
    int devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (dup2(m->in_r >= 0 ? m->in_r : devnull, 0) < 0 ||
        dup2(m->out_w >= 0 ? m->out_w : devnull, 1) < 0 ||
        dup2(m->err_w >= 0 ? m->err_w : (m->out_w >= 0 ? m->out_w : devnull), 2) < 0) {
        berth_error_sys(&err, errno, "container stdio");
        ready_fail(m->ready_w, err);
        _exit(1);
    }
    safe_close(m->in_r), safe_close(m->out_w), safe_close(m->err_w);
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    /* The monitor lives as long as the container: it must not pin the
     * directory `berth run` was started from (nor keep it unmountable). */
    (void)!chdir("/");
    struct berth_create_opts o = {
        .id = m->c->id,
        .bundle = m->bundle,
        .config = m->spec,
        .console_fd = console[0],
        .cgroup_prepared = m->cgroup_prepared,
    };
    pid_t pid = 0;
    if (berth_runtime_create(&rt, &o, &pid, &err) < 0) {
        ready_fail(m->ready_w, err);
        _exit(1);
    }
    int out = m->out_r, in = m->in_w, errfd = m->err_r;
    if (m->tty) {
        int master = recv_fd(console[1]);
        if (master < 0) {
            berth_error_sys(&err, -master, "receive the container's terminal");
            (void)berth_runtime_delete(&rt, m->c->id, true, NULL);
            ready_fail(m->ready_w, err);
            _exit(1);
        }
        if (m->rows && m->cols) {
            struct winsize ws = {.ws_row = m->rows, .ws_col = m->cols};
            (void)ioctl(master, TIOCSWINSZ, &ws);
        }
        out = master;
        in = m->in_w >= 0 ? master : -1;
        safe_close(m->in_w);
        errfd = -1;
    }
    dup2(devnull, 0), dup2(devnull, 1), dup2(devnull, 2);
    char msg[64];
    int n = snprintf(msg, sizeof(msg), "P%d %d\n", (int)getpid(), (int)pid);
    (void)!write(m->ready_w, msg, (size_t)n);

    _cleanup_free_ char *logdir = xasprintf("%s/containers/%s", m->s->root, m->c->id);
    json_t *log_config = json_object_get(host_config(m->c->body), "LogConfig");
    const char *driver = body_str(log_config, "Type");
    bool no_log = driver && streq(driver, "none");
    int logdir_fd = no_log ? -1 : open(logdir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int64_t max_size = 0;
    int max_files = 1;
    json_t *lo = json_object_get(log_config, "Config");
    const char *ms = body_str(lo, "max-size");
    const char *mf = body_str(lo, "max-file");
    if (ms) {
        (void)parse_size(ms, &max_size);
    }
    if (mf && (parse_int(mf, &max_files) < 0 || max_files < 1)) {
        max_files = 1;
    }
    enum monitor_log_format log_format = MONITOR_LOG_JSON_FILE;
    _cleanup_free_ char *log_name = monitor_log_name(m->c->id, driver, &log_format);
    if (!log_name) { /* "none" (or a driver create would have refused) */
        log_name = xasprintf("%s-json.log", m->c->id);
        safe_close(logdir_fd);
        logdir_fd = -1;
    }
    int berth_fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);
    char nspath[64];
    snprintf(nspath, sizeof(nspath), "/proc/%d/ns/mnt", (int)pid);
    int hold_fd = open(nspath, O_RDONLY | O_CLOEXEC); /* -1: no matter */
    char *extra[] = {(char *)"--root", m->s->root, (char *)"--runroot", m->s->runroot, NULL};
    struct monitor_stub_args a = {
        .id = m->c->id,
        .init_pid = pid,
        .stdout_fd = out,
        .stderr_fd = errfd,
        .stdin_fd = in,
        .listen_fd = m->listen_fd,
        .log_dirfd = logdir_fd,
        .log_name = log_name,
        .log_max_size = (uint64_t)max_size,
        .log_max_files = (unsigned)max_files,
        .ready_fd = m->ready_w,
        .berth_fd = berth_fd,
        .stdin_once = m->stdin_once,
        .ctl_fd = m->ctl_fd,
        .health_interval_ms = container_health_interval_ms(m->s, m->c),
        .log_format = log_format,
        .hold_fd = hold_fd,
        .extra = (const char *const *)extra,
    };
    monitor_exec_stub(&a, &err);
    /* Only on failure: the container must not run unmonitored. */
    (void)berth_runtime_delete(&rt, m->c->id, true, NULL);
    ready_fail(m->ready_w, err);
    _exit(1);
}

/* The monitor must outlive the CLI and not be its child (a long-lived
 * caller would collect zombies): a child that starts the monitor and exits
 * at once, so that it is adopted by init or the nearest subreaper. Both are
 * made with clone(CLONE_VM | CLONE_VFORK), not fork(): no copy of the CLI's
 * page tables for either (a fork and its exit cost ~0.17 ms each here, a
 * vfork-style clone 0.04 ms), and the monitor's exec of its stub drops a
 * reference to the CLI's memory instead of tearing down a copy of it.
 *
 * That is safe because of how the two run. CLONE_VFORK suspends the calling
 * thread until the child execs or exits: the CLI waits for the intermediate
 * child, which waits for the monitor, so while the monitor runs berth's code
 * (the runtime's create) it is, in effect, the CLI's thread continuing on
 * another stack, as posix_spawn's child is. It never returns into the CLI's
 * frames; it leaves by exec (the stub) or _exit. Its descriptors, signal
 * handlers, cwd and namespaces are its own (no CLONE_FILES, CLONE_SIGHAND,
 * CLONE_FS), so its dup2()s, chdir() and setns() do not reach the CLI. What
 * it allocates stays allocated in the CLI's heap (a few KiB). The one other
 * thread the CLI may have (netns-prep.h) has been joined before this. The
 * container's init is cloned from the monitor without CLONE_VM: it gets a
 * copy of the memory, as before. */
#define MONITOR_STACK_SIZE (8u << 20)
#define SPAWNER_STACK_SIZE (64u << 10)

static int monitor_entry(void *arg)
{
    struct monitor_setup *m = arg;
    close(m->ready_r);
    monitor_main(m);
}

static int spawner_entry(void *arg)
{
    struct monitor_setup *m = arg;
    setsid();
    pid_t g =
        clone(monitor_entry, (char *)m->stack + m->stack_size, CLONE_VM | CLONE_VFORK | SIGCHLD, m);
    _exit(g < 0 ? 1 : 0);
}

static int spawn_monitor_forked(struct monitor_setup *m, struct berth_error **err)
{
    pid_t child = fork();
    if (child < 0) {
        return berth_error_sys(err, errno, "start the monitor");
    }
    if (child == 0) {
        setsid();
        pid_t g = fork();
        if (g == 0) {
            close(m->ready_r);
            monitor_main(m);
        }
        _exit(g < 0 ? 1 : 0);
    }
    int wst;
    while (waitpid(child, &wst, 0) < 0 && errno == EINTR) {
    }
    return 0;
}

static int spawn_monitor(struct monitor_setup *m, struct berth_error **err)
{
    if (BERTH_ASAN) {
        return spawn_monitor_forked(m, err);
    }
    /* One mapping: the monitor's stack above a guard page, the spawner's
     * below it, above a guard page of its own. An overflow faults instead
     * of writing into the CLI's memory. */
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    size_t total = page + SPAWNER_STACK_SIZE + page + MONITOR_STACK_SIZE;
    char *map = mmap(NULL, total, PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
    if (map == MAP_FAILED) {
        return berth_error_sys(err, errno, "monitor stack");
    }
    char *spawner = map + page, *guard2 = spawner + SPAWNER_STACK_SIZE;
    if (mprotect(map, page, PROT_NONE) < 0 || mprotect(guard2, page, PROT_NONE) < 0) {
        int e = errno;
        munmap(map, total);
        return berth_error_sys(err, e, "monitor stack");
    }
    m->stack = guard2 + page;
    m->stack_size = MONITOR_STACK_SIZE;
    pid_t child =
        clone(spawner_entry, spawner + SPAWNER_STACK_SIZE, CLONE_VM | CLONE_VFORK | SIGCHLD, m);
    int e = errno;
    if (child > 0) {
        int wst;
        while (waitpid(child, &wst, 0) < 0 && errno == EINTR) {
        }
    }
    munmap(map, total);
    return child < 0 ? berth_error_sys(err, e, "start the monitor") : 0;
}

static int read_ready(int fd, pid_t *ret_monitor, pid_t *ret_init, struct berth_error **err)
{
    char buf[READY_MAX + 1];
    size_t len = 0;
    for (;;) {
        ssize_t n = read(fd, buf + len, READY_MAX - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
        buf[len] = '\0';
        if (buf[0] == 'P' && strchr(buf, 'R')) {
            break;
        }
        if (len == READY_MAX) {
            break;
        }
    }
    buf[len] = '\0';
    if (len > 0 && buf[0] == 'E') {
        return berth_error_set(err, EIO, "%s", buf + 1);
    }
    int mp = 0, ip = 0;
    if (buf[0] != 'P' || sscanf(buf, "P%d %d", &mp, &ip) != 2) {
        return berth_error_set(err, EIO, "the container's monitor failed to start");
    }
    const char *after = strchr(buf, '\n');
    if (!after || after[1] != 'R') {
        if (after && after[1] == 'E') {
            return berth_error_set(err, EIO, "%s", after + 2);
        }
        return berth_error_set(err, EIO, "the container's monitor failed to start");
    }
    *ret_monitor = mp;
    *ret_init = ip;
    return 0;
}

/* See lifecycle.h: an flock on the container's directory. */
int container_lock(struct store *s, const char *id, struct berth_error **err)
{
    _cleanup_free_ char *dir = xasprintf("%s/containers/%s", s->root, id);
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return berth_error_sys(err, errno, "open '%s'", dir);
    }
    while (flock(fd, LOCK_EX) < 0) {
        if (errno != EINTR) {
            int e = errno;
            close(fd);
            return berth_error_sys(err, e, "lock '%s'", dir);
        }
    }
    return fd;
}

int container_get_locked(struct store *s, const char *name_or_id, char **ret_id, int *ret_lock,
                         struct container_record **ret, struct berth_error **err)
{
    _cleanup_free_ char *id = NULL;
    int r = container_resolve(s, name_or_id, &id, err);
    if (r < 0) {
        return r;
    }
    _cleanup_close_ int lock = container_lock(s, id, err);
    if (lock < 0) {
        return lock;
    }
    r = container_record_get(s, id, ret, err);
    if (r < 0) {
        return r;
    }
    *ret_id = TAKE_PTR(id);
    *ret_lock = TAKE_FD(lock);
    return 0;
}

int container_start(struct store *s, const char *name_or_id, const struct container_start_opts *o,
                    int *ret_attach_fd, struct berth_error **err)
{
    _cleanup_free_ char *id = NULL, *now = NULL;
    struct berth_runtime rt = container_runtime(s);
    /* Taken over whatever happens; its cgroup kept only by a successful
     * start, or when the container turns out to run already. */
    _cleanup_(container_start_prep_freep) struct container_start_prep *sprep = o ? o->prep : NULL;
    _cleanup_close_ int lock = -1;
    _cleanup_(container_record_freep) struct container_record *c = NULL;
    int r = container_get_locked(s, name_or_id, &id, &lock, &c, err);
    if (r < 0) {
        return r;
    }
    struct container_state_file st = {0};
    r = container_status(s, id, &st, err);
    if (r < 0) {
        return r;
    }
    bool running = streq(st.status, "running"), paused = streq(st.status, "paused");
    int restarts = st.restart_count;
    container_state_file_release(&st);
    if (sprep && (running || paused || !streq(sprep->id, id))) {
        sprep->cgp.keep = running || paused; /* never remove a live container's cgroup */
        container_start_prep_free(TAKE_PTR(sprep));
    }
    if (paused) {
        return berth_error_set(err, EBUSY, "cannot start a paused container, try unpause instead");
    }
    clear_stopped_by_user(s, id); /* restart policies apply again */
    if (running) {
        return 0;
    }
    /* A new network namespace unless the container shares one: made by a
     * helper while the rootfs is mounted (netns-prep.h), or already under
     * way since the caller's start. */
    const char *net_mode = body_str(host_config(c->body), "NetworkMode");
    bool new_netns = !net_mode || (!streq(net_mode, "host") && strncmp(net_mode, "container:", 10));
    struct netns_prep own = NETNS_PREP_NONE;
    struct netns_prep *prep = o && o->netns ? o->netns : &own;
    if (!new_netns) {
        netns_prep_release(prep);
    } else if (!prep->started) {
        netns_prep_start(prep);
    }
    if (!sprep) {
        sprep = container_start_prep_new(s, id);
    }
    struct cgroup_prep *cgp = &sprep->cgp;
    _cleanup_free_ char *rootfs = NULL;
    log_trace_point("start: checked");
    r = container_rootfs_mount(s, c, &rootfs, err);
    if (r < 0) {
        netns_prep_release(prep);
        return r;
    }
    log_trace_point("start: rootfs mounted");
    _cleanup_close_ int netns_fd = -1;
    if (prep->started) {
        /* Without it the runtime makes the namespace (with lo down). */
        netns_fd = netns_prep_take(prep, NULL);
    }
    _cleanup_json_ json_t *spec = NULL;
    r = write_bundle(s, c, rootfs, netns_fd, &spec, err);
    log_trace_point("start: bundle written");
    _cleanup_free_ char *bundle = bundle_dir(s, id);
    _cleanup_free_ char *sock = xasprintf("%s/attach.sock", bundle);
    _cleanup_close_ int listen_fd = r < 0 ? r : listen_attach(sock, err);
    if (listen_fd < 0) {
        (void)container_rootfs_unmount(s, id, NULL);
        return listen_fd;
    }
    _cleanup_free_ char *ctl = xasprintf("%s/ctl.sock", bundle);
    _cleanup_close_ int ctl_fd = bind_control(ctl, err);
    if (ctl_fd < 0) {
        (void)unlink(sock);
        (void)container_rootfs_unmount(s, id, NULL);
        return ctl_fd;
    }
    bool want_attach = o && o->attach, want_handoff = want_attach && o->handoff_fd;
    cgroup_prep_post(cgp, rootfs, spec, sock, ctl, want_attach, want_handoff);
    bool tty = json_is_true(json_object_get(c->body, "Tty"));
    bool open_stdin = json_is_true(json_object_get(c->body, "OpenStdin"));
    int outp[2] = {-1, -1}, errp[2] = {-1, -1}, inp[2] = {-1, -1}, ready[2] = {-1, -1};
    if ((!tty && (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0)) ||
        (open_stdin && pipe2(inp, O_CLOEXEC) < 0) || pipe2(ready, O_CLOEXEC) < 0) {
        r = berth_error_sys(err, errno, "pipe");
        goto rollback;
    }
    struct monitor_setup m = {
        .s = s,
        .c = c,
        .bundle = bundle,
        .spec = spec,
        .listen_fd = listen_fd,
        .ready_w = ready[1],
        .ctl_fd = ctl_fd,
        .rows = o ? o->rows : 0,
        .cols = o ? o->cols : 0,
        .out_r = outp[0],
        .out_w = outp[1],
        .err_r = errp[0],
        .err_w = errp[1],
        .in_r = inp[0],
        .in_w = inp[1],
        .tty = tty,
        .stdin_once = json_is_true(json_object_get(c->body, "StdinOnce")),
        .cgroup_prepared = cgroup_prep_wait(cgp),
    };
    m.ready_r = ready[0];
    r = spawn_monitor(&m, err);
    if (r < 0) {
        goto rollback;
    }
    safe_close(ready[1]);
    ready[1] = -1;
    pid_t monitor = 0, init = 0;
    r = read_ready(ready[0], &monitor, &init, err);
    log_trace_point("start: monitor ready");
    if (r < 0) {
        goto rollback;
    }
    cgp->keep = true; /* the container's now: its exit removes it */
    /* Network before the init runs: its first instruction may need it. */
    r = network_attach_start(s, c, init, err);
    if (r < 0) {
        goto kill_rollback;
    }
    int attach = -1;
    if (want_attach && cgp->started) {
        /* Made by the helper while the monitor started. */
        cgroup_prep_join(cgp);
        attach = TAKE_FD(cgp->attach_fd);
        if (attach < 0) {
            r = berth_error_sys(err, cgp->attach_errno ? cgp->attach_errno : EIO, "attach to '%s'",
                                sock);
            goto kill_rollback;
        }
        if (want_handoff) {
            *o->handoff_fd = TAKE_FD(cgp->handoff_fd);
        }
    } else if (want_attach) {
        attach = connect_attach(sock, err);
        if (attach < 0) {
            r = attach;
            goto kill_rollback;
        }
        if (want_handoff) {
            /* Before the start: the monitor has the fd when the container
             * exits, however fast. Made after the monitor's start, so the
             * monitor never holds its write end itself. */
            *o->handoff_fd = send_handoff(ctl);
        }
    }
    /* "running" before the start: the container cannot exit (and its exit
     * handler write "exited") before it has started. */
    now = rfc3339_now();
    struct container_state_file run = {
        .status = (char *)"running",
        .pid = init,
        .monitor_pid = monitor,
        .monitor_start = container_pid_start_time(monitor),
        .started_at = now,
        .finished_at = (char *)ZERO_TIME,
        .restart_count = restarts,
    };
    log_trace_point("start: attached");
    /* Handed off, the exit is this process's to handle, after this write
     * whenever the container exits: "running" may then follow the start,
     * written while the container runs instead of before. (Otherwise the
     * monitor's exit handler could write "exited" first.) */
    bool late = o && o->handoff_fd && *o->handoff_fd >= 0;
    r = late ? 0 : container_state_write(s->root, id, &run, err);
    if (r >= 0) {
        /* berth's own configs have no hooks, and this process holds the
         * container's lock: the short way (see berth_runtime_start_created). */
        r = json_object_get(spec, "hooks") ? berth_runtime_start(&rt, id, err)
                                           : berth_runtime_start_created(&rt, id, err);
    }
    if (r >= 0 && late) {
        r = container_state_write(s->root, id, &run, err);
    }
    log_trace_point("start: started");
    if (r < 0) {
        safe_close(attach);
        goto kill_rollback;
    }
    if (ret_attach_fd) {
        *ret_attach_fd = attach;
    } else {
        safe_close(attach);
    }
    safe_close(outp[0]), safe_close(outp[1]), safe_close(errp[0]), safe_close(errp[1]);
    safe_close(inp[0]), safe_close(inp[1]), safe_close(ready[0]);
    return 0;

kill_rollback:
    /* The monitor's exit handler records the exit and unmounts. */
    (void)berth_runtime_kill(&rt, id, SIGKILL, true, NULL);
    safe_close(outp[0]), safe_close(outp[1]), safe_close(errp[0]), safe_close(errp[1]);
    safe_close(inp[0]), safe_close(inp[1]), safe_close(ready[0]), safe_close(ready[1]);
    return r;
rollback:
    safe_close(outp[0]), safe_close(outp[1]), safe_close(errp[0]), safe_close(errp[1]);
    safe_close(inp[0]), safe_close(inp[1]), safe_close(ready[0]), safe_close(ready[1]);
    (void)unlink(sock);
    (void)unlink(ctl);
    (void)container_rootfs_unmount(s, id, NULL);
    return r;
}

int container_attach(struct store *s, const char *name_or_id, int *ret_fd, char **ret_id,
                     struct berth_error **err)
{
    _cleanup_free_ char *id = NULL, *status = NULL;
    int r = container_resolve_status(s, name_or_id, &id, &status, err);
    if (r < 0) {
        return r;
    }
    bool running = streq(status, "running") || streq(status, "paused");
    if (!running) {
        return berth_error_set(err, EINVAL, "Container %s is not running", id);
    }
    _cleanup_free_ char *bundle = bundle_dir(s, id);
    _cleanup_free_ char *sock = xasprintf("%s/attach.sock", bundle);
    int fd = connect_attach(sock, NULL);
    if (fd < 0) {
        /* The monitor is gone: it exited between the status and now. */
        return berth_error_set(err, EINVAL, "Container %s is not running", id);
    }
    *ret_fd = fd;
    if (ret_id) {
        *ret_id = TAKE_PTR(id);
    }
    return 0;
}

int container_resize(struct store *s, const char *id, unsigned short rows, unsigned short cols,
                     struct berth_error **err)
{
    _cleanup_free_ char *bundle = bundle_dir(s, id);
    _cleanup_free_ char *path = xasprintf("%s/ctl.sock", bundle);
    struct sockaddr_un sa;
    _cleanup_close_ int dfd = -1;
    int r = sock_addr(path, &sa, &dfd, err);
    if (r < 0) {
        return r;
    }
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return berth_error_sys(err, errno, "control socket");
    }
    uint8_t m[MONITOR_CTL_MSG_SIZE] = {MONITOR_CTL_RESIZE,
                                       0,
                                       (uint8_t)(rows >> 8),
                                       (uint8_t)rows,
                                       (uint8_t)(cols >> 8),
                                       (uint8_t)cols,
                                       0,
                                       0};
    if (sendto(fd, m, sizeof(m), MSG_DONTWAIT, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        return berth_error_sys(err, errno, "resize '%s'", id);
    }
    return 0;
}

/* A MONITOR_CTL_HANDOFF datagram with a new pipe's read end; the write
 * end, or -1 on any failure (then nothing is handed off). */
static int send_handoff(const char *ctl_path)
{
    struct sockaddr_un sa;
    _cleanup_close_ int dfd = -1;
    if (sock_addr(ctl_path, &sa, &dfd, NULL) < 0) {
        return -1;
    }
    _cleanup_close_ int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int p[2];
    if (fd < 0 || pipe2(p, O_CLOEXEC) < 0) {
        return -1;
    }
    uint8_t m[MONITOR_CTL_MSG_SIZE] = {MONITOR_CTL_HANDOFF};
    struct iovec iov = {m, sizeof(m)};
    union {
        struct cmsghdr h;
        char buf[CMSG_SPACE(sizeof(int))];
    } u = {0};
    struct msghdr mh = {.msg_name = &sa,
                        .msg_namelen = sizeof(sa),
                        .msg_iov = &iov,
                        .msg_iovlen = 1,
                        .msg_control = u.buf,
                        .msg_controllen = sizeof(u.buf)};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &p[0], sizeof(int));
    ssize_t n = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
    close(p[0]);
    if (n != (ssize_t)sizeof(m)) {
        close(p[1]);
        return -1;
    }
    return p[1];
}

int container_exit_handled(struct store *s, const char *id, int wait_status, int handoff_fd,
                           struct berth_error **err)
{
    int r = container_exited(s, id, wait_status, err);
    (void)write(handoff_fd, "D", 1);
    close(handoff_fd);
    return r;
}

/* ---- status ------------------------------------------------------------ */

int container_status(struct store *s, const char *id, struct container_state_file *ret,
                     struct berth_error **err)
{
    int r = container_state_read(s->root, id, ret, err);
    if (r < 0) {
        return r;
    }
    if (streq(ret->status, "restarting")) {
        /* The exit handler waiting out its backoff is the monitor's
         * process (exec'd), recorded with its start time: when it is gone
         * (killed), nothing will restart the container. An older state
         * file without the pid stays "restarting", as before. */
        if (ret->monitor_pid > 0 && !container_state_monitor_alive(ret)) {
            goto monitor_gone;
        }
        return 0;
    }
    if (streq(ret->status, "created") && ret->monitor_pid <= 0) {
        /* A foreground run writes "running" just after the start (see
         * container_start); a CLI killed in between leaves "created" with
         * the container running, which the runtime knows. */
        struct berth_runtime crt = container_runtime(s);
        struct container_state *cs = NULL;
        if (berth_runtime_state(&crt, id, &cs, NULL) >= 0) {
            bool up = cs->status == STATUS_RUNNING || cs->status == STATUS_PAUSED;
            pid_t pid = cs->pid;
            container_state_free(cs);
            if (up) {
                free(ret->status);
                ret->status = xstrdup("running");
                ret->pid = pid;
                return 0;
            }
        }
        return 0;
    }
    if (!streq(ret->status, "running") && !streq(ret->status, "paused")) {
        return 0;
    }
    struct berth_runtime rt = container_runtime(s);
    struct container_state *cs = NULL;
    enum container_status rs = STATUS_STOPPED;
    if (berth_runtime_state(&rt, id, &cs, NULL) >= 0) {
        rs = cs->status;
        container_state_free(cs);
    }
    if (rs == STATUS_PAUSED) {
        free(ret->status);
        ret->status = xstrdup("paused");
        return 0;
    }
    /* The init's liveness comes from the runtime state, which checks the
     * init's start time; the monitor's is checked here the same way (a
     * reused pid is not our monitor). */
    if (rs == STATUS_RUNNING || rs == STATUS_CREATED || container_state_monitor_alive(ret)) {
        /* Alive, or just exited with its exit handler at work. */
        free(ret->status);
        ret->status = xstrdup("running");
        return 0;
    }
monitor_gone:
    /* Neither the init nor the monitor: the monitor was killed. */
    free(ret->status);
    free(ret->error);
    free(ret->finished_at);
    ret->status = xstrdup("exited");
    ret->error = xstrdup("the container's monitor is gone");
    ret->exit_code = -1;
    ret->finished_at = xstrdup(ZERO_TIME);
    ret->pid = 0;
    return 0;
}

int container_resolve_state(struct store *s, const char *name_or_id, char **ret_id,
                            struct container_state_file *ret, struct berth_error **err)
{
    _cleanup_free_ char *id = NULL;
    int r = container_resolve(s, name_or_id, &id, err);
    if (r < 0) {
        return r;
    }
    r = container_status(s, id, ret, err);
    if (r < 0) {
        return r;
    }
    *ret_id = TAKE_PTR(id);
    return 0;
}

int container_resolve_status(struct store *s, const char *name_or_id, char **ret_id,
                             char **ret_status, struct berth_error **err)
{
    struct container_state_file st = {0};
    int r = container_resolve_state(s, name_or_id, ret_id, &st, err);
    if (r < 0) {
        return r;
    }
    *ret_status = TAKE_PTR(st.status);
    container_state_file_release(&st);
    return 0;
}

char *container_status_text(const struct container_state_file *st)
{
    long long now = (long long)time(NULL);
    if (streq(st->status, "created")) {
        return xstrdup("Created");
    }
    if (streq(st->status, "running") || streq(st->status, "paused")) {
        _cleanup_free_ char *d = human_duration(now - rfc3339_parse(st->started_at));
        return xasprintf("Up %s%s", d, streq(st->status, "paused") ? " (Paused)" : "");
    }
    if (streq(st->status, "exited")) {
        if (rfc3339_parse(st->finished_at) <= 0) {
            return xasprintf("Exited (%d)", st->exit_code);
        }
        _cleanup_free_ char *d = human_duration(now - rfc3339_parse(st->finished_at));
        return xasprintf("Exited (%d) %s ago", st->exit_code, d);
    }
    if (streq(st->status, "dead")) {
        return xstrdup("Dead");
    }
    if (streq(st->status, "restarting")) {
        _cleanup_free_ char *d = human_duration(now - rfc3339_parse(st->finished_at));
        return xasprintf("Restarting (%d) %s ago", st->exit_code, d);
    }
    return xstrdup(st->status);
}

/* ---- exit, stop, kill, wait, remove ------------------------------------ */

/* ---- restart policies ---------------------------------------------------- */

#define BACKOFF_FIRST_MS 100L
#define BACKOFF_MAX_MS 60000L
#define BACKOFF_RESET_MS 10000L

/* Docker's restart manager backoff: 100 ms, doubling per restart, at most
 * a minute, back to 100 ms once the container ran 10 s. Kept in a file
 * because every exit is a new exit-handler process. */
static char *backoff_path(struct store *s, const char *id)
{
    return xasprintf("%s/containers/%s/restart-backoff", s->root, id);
}

static long backoff_next(struct store *s, const char *id, long ran_ms)
{
    _cleanup_free_ char *p = backoff_path(s, id);
    _cleanup_free_ char *v = NULL;
    size_t n;
    int64_t ms = BACKOFF_FIRST_MS;
    if (ran_ms < BACKOFF_RESET_MS && read_file_at(AT_FDCWD, p, 32, &v, &n, NULL) >= 0 &&
        (parse_int64(v, &ms) < 0 || ms < BACKOFF_FIRST_MS || ms > BACKOFF_MAX_MS)) {
        ms = BACKOFF_FIRST_MS;
    }
    long next = (long)ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : (long)ms * 2;
    char buf[32];
    int len = snprintf(buf, sizeof(buf), "%ld", next);
    (void)write_file_replace_at(AT_FDCWD, p, buf, (size_t)len, 0600, NULL);
    return (long)ms;
}

/* Docker's policies: "no" (or ""), "always", "unless-stopped",
 * "on-failure[:N]" (only a non-zero exit, at most N restarts, 0: no
 * limit). Nothing restarts what the user stopped or killed. */
static bool should_restart(struct store *s, const struct container_record *c,
                           const struct container_state_file *st)
{
    json_t *rp = json_object_get(host_config(c->body), "RestartPolicy");
    const char *name = body_str(rp, "Name");
    if (!name || !*name || streq(name, "no")) {
        return false;
    }
    _cleanup_free_ char *stopped = stopped_by_user(s, c->id);
    if (stopped) {
        return false;
    }
    if (streq(name, "always") || streq(name, "unless-stopped")) {
        return true;
    }
    if (streq(name, "on-failure")) {
        json_int_t max = json_integer_value(json_object_get(rp, "MaximumRetryCount"));
        return st->exit_code != 0 && (max <= 0 || st->restart_count < max);
    }
    return false;
}

/* The runtime's delete of an exited container (its cgroup in every
 * hierarchy, ~0.4 ms on a v1 host, and its state) by a thread, while the
 * caller unmounts the rootfs and removes the bundle and the record: it
 * touches neither the store's database nor the container's files. Joined
 * before the container's state says it exited (or it is gone). */
struct runtime_delete {
    struct berth_runtime rt;
    const char *id;
    pthread_t thread;
    bool started;
};

static void *runtime_delete_thread(void *arg)
{
    struct runtime_delete *d = arg;
    (void)berth_runtime_delete(&d->rt, d->id, true, NULL);
    log_trace_point("exited: runtime deleted");
    return NULL;
}

static void runtime_delete_start(struct runtime_delete *d, const struct berth_runtime *rt,
                                 const char *id)
{
    *d = (struct runtime_delete){.rt = *rt, .id = id};
    d->started = thread_start(&d->thread, runtime_delete_thread, d) == 0;
    if (!d->started) {
        runtime_delete_thread(d);
    }
}

static void runtime_delete_join(struct runtime_delete *d)
{
    if (d->started) {
        pthread_join(d->thread, NULL);
        d->started = false;
    }
}

int container_exited(struct store *s, const char *id, int wait_status, struct berth_error **err)
{
    struct container_state_file st = {0};
    int r = container_state_read(s->root, id, &st, err);
    if (r < 0) {
        return r;
    }
    _cleanup_free_ char *now = rfc3339_now();
    long long ran_ms = rfc3339_parse_ms(now) - rfc3339_parse_ms(st.started_at);
    free(st.status);
    st.status = xstrdup("exited");
    st.exit_code = WIFEXITED(wait_status)     ? WEXITSTATUS(wait_status)
                   : WIFSIGNALED(wait_status) ? 128 + WTERMSIG(wait_status)
                                              : 255;
    free(st.finished_at);
    st.finished_at = xstrdup(now);
    st.pid = 0;
    /* monitor_pid (and its start time) stay while "restarting": this
     * process is the monitor's, exec'd, and status checks it is alive. */
    int64_t monitor_pid = st.monitor_pid;
    st.monitor_pid = 0;
    _cleanup_(container_record_freep) struct container_record *c = NULL;
    bool have_record = container_record_get(s, id, &c, NULL) >= 0;
    bool restart = have_record && should_restart(s, c, &st);
    if (restart) {
        /* "restarting" for the backoff, with this process as the one to
         * wait for; ps shows "Restarting (code) X ago". */
        free(st.status);
        st.status = xstrdup("restarting");
        st.restart_count++;
        st.monitor_pid = monitor_pid == getpid() ? monitor_pid : 0;
    }
    /* Clean up before the state says "exited": whoever waits for that (stop,
     * wait, a start right after) must find the runtime state, the mount and
     * the bundle gone, or a new start would race this cleanup. */
    struct berth_runtime rt = container_runtime(s);
    log_trace_point("exited: start");
    /* Under the container's lock: a cp or export that mounts the rootfs
     * meanwhile must not have it unmounted (or its mount point removed)
     * under it. Released before a restart, which takes it again. */
    int lock = container_lock(s, id, NULL);
    network_attach_stop(s, id);
    struct runtime_delete del;
    runtime_delete_start(&del, &rt, id);
    (void)container_rootfs_unmount(s, id, NULL);
    log_trace_point("exited: unmounted");
    _cleanup_free_ char *bundle = bundle_dir(s, id);
    (void)rm_rf_at(AT_FDCWD, bundle, NULL);
    bool auto_remove =
        have_record && json_is_true(json_object_get(host_config(c->body), "AutoRemove"));
    if (!auto_remove || restart) {
        runtime_delete_join(&del);
    }
    safe_close(lock);
    if (auto_remove && !restart) {
        /* Going away now: the final state would be written (and flushed to
         * disk) only to be deleted. It is written if the removal fails. */
        r = container_remove_with_volumes(s, id, err);
        runtime_delete_join(&del);
        if (r >= 0 || r == -ENOENT) {
            container_state_file_release(&st);
            return 0;
        }
        if (err) {
            berth_error_free(*err);
            *err = NULL;
        }
    }
    r = container_state_write(s->root, id, &st, err);
    log_trace_point("exited: state written");
    if (r < 0) {
        container_state_file_release(&st);
        return r;
    }
    if (restart) {
        sleep_ms(backoff_next(s, id, ran_ms));
        /* A stop, kill or rm during the backoff wins. */
        _cleanup_free_ char *stopped = stopped_by_user(s, id);
        struct container_state_file now_st = {0};
        bool still = !stopped && container_state_read(s->root, id, &now_st, NULL) >= 0 &&
                     streq(now_st.status, "restarting");
        container_state_file_release(&now_st);
        if (still) {
            r = container_start(s, id, NULL, NULL, err);
            if (r >= 0) {
                container_state_file_release(&st);
                return 0;
            }
            free(st.error);
            st.error = xstrdup(err && *err && (*err)->msg ? (*err)->msg : "restart failed");
            if (err) {
                berth_error_free(*err);
                *err = NULL;
            }
        }
        free(st.status);
        st.status = xstrdup("exited");
        st.monitor_pid = 0;
        /* Only over our own "restarting": a user's stop (which already
         * wrote "exited") followed by a start during the backoff must not
         * have its running state overwritten. */
        int lk = container_lock(s, id, NULL);
        struct container_state_file cur = {0};
        r = 0;
        if (container_state_read(s->root, id, &cur, NULL) >= 0 && streq(cur.status, "restarting")) {
            r = container_state_write(s->root, id, &st, err);
        }
        container_state_file_release(&cur);
        safe_close(lk);
        container_state_file_release(&st);
        return r;
    }
    container_state_file_release(&st);
    if (have_record && json_is_true(json_object_get(host_config(c->body), "AutoRemove"))) {
        return container_remove_with_volumes(s, id, err);
    }
    return 0;
}

int container_boot(struct store *s, const char *id, bool *ret_started, struct berth_error **err)
{
    *ret_started = false;
    _cleanup_(container_record_freep) struct container_record *c = NULL;
    int r = container_record_get(s, id, &c, err);
    if (r < 0) {
        return r;
    }
    const char *name = body_str(json_object_get(host_config(c->body), "RestartPolicy"), "Name");
    _cleanup_free_ char *stopped = stopped_by_user(s, id);
    if (!name || !(streq(name, "always") || (streq(name, "unless-stopped") && !stopped))) {
        return 0;
    }
    struct container_state_file st = {0};
    r = container_status(s, id, &st, err);
    if (r < 0) {
        return r;
    }
    bool up =
        streq(st.status, "running") || streq(st.status, "paused") || streq(st.status, "restarting");
    container_state_file_release(&st);
    if (up) {
        return 0;
    }
    /* What a killed monitor left behind (nothing after a real reboot). */
    struct berth_runtime rt = container_runtime(s);
    (void)berth_runtime_delete(&rt, id, true, NULL);
    r = container_start(s, id, NULL, NULL, err);
    if (r >= 0) {
        *ret_started = true;
    }
    return r;
}

/* Wait until the state file no longer says running (the exit handler has
 * run), at most ms (-1: forever). 1 when it stopped, 0 on timeout.
 * "restarting" is not stopped (Docker counts it as running): the exit
 * handler in its backoff either starts the container again or, when a
 * stop, kill or rm told it not to, writes "exited". */
static int wait_stopped(struct store *s, const char *id, long ms)
{
    for (long waited = 0;; waited += 2) {
        struct container_state_file st = {0};
        if (container_status(s, id, &st, NULL) < 0) {
            return 1; /* removed (AutoRemove) */
        }
        bool running = streq(st.status, "running") || streq(st.status, "paused") ||
                       streq(st.status, "restarting");
        container_state_file_release(&st);
        if (!running) {
            return 1;
        }
        if (ms >= 0 && waited >= ms) {
            return 0;
        }
        sleep_ms(2);
    }
}

static int stop_signal(struct store *s, const struct container_record *c)
{
    const char *sig = body_str(c->body, "StopSignal");
    const struct image_config *config = NULL;
    if ((!sig || !*sig) && image_config_get(s, c->image_id, &config, NULL) >= 0 && config) {
        sig = config->stop_signal;
    }
    int n = sig && *sig ? signal_from_string(sig) : SIGTERM;
    return n > 0 ? n : SIGTERM;
}

int container_kill(struct store *s, const char *name_or_id, int sig, struct berth_error **err)
{
    _cleanup_free_ char *id = NULL, *status = NULL;
    int r = container_resolve_status(s, name_or_id, &id, &status, err);
    if (r < 0) {
        return r;
    }
    bool running = streq(status, "running") || streq(status, "paused");
    bool restarting = streq(status, "restarting");
    if (restarting) {
        /* Docker's: nothing to signal, telling the exit handler in its
         * backoff not to start it again is enough. */
        set_stopped_by_user(s, id, "kill");
        return 0;
    }
    if (!running) {
        return berth_error_set(
            err, EINVAL, "Cannot kill container: %s: Container %s is not running", name_or_id, id);
    }
    /* Docker's killWithSignal: SIGKILL, or any signal when no StopSignal
     * is configured, means the exit that follows is not restarted. */
    _cleanup_(container_record_freep) struct container_record *kc = NULL;
    if (container_record_get(s, id, &kc, NULL) >= 0) {
        const char *ss = body_str(kc->body, "StopSignal");
        if (sig == SIGKILL || !ss || !*ss) {
            set_stopped_by_user(s, id, "kill");
        }
    }
    struct berth_runtime rt = container_runtime(s);
    r = berth_runtime_kill(&rt, id, sig, sig == SIGKILL, err);
    if (r == -ENOENT) {
        if (err) {
            berth_error_free(*err);
            *err = NULL;
        }
        return 0; /* exited meanwhile */
    }
    return r;
}

/* A container in its restart backoff that was told to stay down: "exited"
 * now, under the container's lock (a start in progress holds it until its
 * state says "running"; then that start won and the caller stops it). */
static int stop_restarting(struct store *s, const char *id, struct berth_error **err)
{
    _cleanup_close_ int lock = container_lock(s, id, err);
    if (lock < 0) {
        return lock;
    }
    struct container_state_file st = {0};
    int r = container_state_read(s->root, id, &st, err);
    if (r < 0) {
        return r;
    }
    if (streq(st.status, "restarting")) {
        free(st.status);
        st.status = xstrdup("exited");
        st.monitor_pid = 0;
        st.monitor_start = 0;
        r = container_state_write(s->root, id, &st, err);
    } else if (streq(st.status, "running") || streq(st.status, "paused")) {
        r = 1;
    }
    container_state_file_release(&st);
    return r;
}

int container_stop(struct store *s, const char *name_or_id, int timeout, struct berth_error **err)
{
    _cleanup_free_ char *id = NULL;
    int r = container_resolve(s, name_or_id, &id, err);
    if (r < 0) {
        return r;
    }
    _cleanup_(container_record_freep) struct container_record *c = NULL;
    r = container_record_get(s, id, &c, err);
    if (r < 0) {
        return r;
    }
    /* Before anything is signalled, and even when it is not running: a
     * container in its restart backoff must stay down too. */
    set_stopped_by_user(s, id, "stop");
    if (timeout < 0) {
        json_t *t = json_object_get(c->body, "StopTimeout");
        timeout = json_is_integer(t) ? (int)json_integer_value(t) : DEFAULT_STOP_TIMEOUT;
    }
    struct berth_runtime rt = container_runtime(s);
    struct container_state_file st = {0};
    r = container_status(s, id, &st, err);
    if (r < 0) {
        return r;
    }
    bool running = streq(st.status, "running") || streq(st.status, "paused");
    bool paused = streq(st.status, "paused");
    bool restarting = streq(st.status, "restarting");
    container_state_file_release(&st);
    if (restarting) {
        /* Nothing runs: the exit handler is waiting out its backoff and
         * will not start it again (the flag above). Docker's stop leaves
         * the container exited at once, with the exit code it had. */
        r = stop_restarting(s, id, err);
        if (r <= 0) {
            return r;
        }
        running = true; /* a restart got there first: stop that */
    }
    if (!running) {
        return 0;
    }
    if (!paused && timeout > 0) {
        (void)berth_runtime_kill(&rt, id, stop_signal(s, c), false, NULL);
        if (wait_stopped(s, id, (long)timeout * 1000) > 0) {
            return 0;
        }
    }
    (void)berth_runtime_kill(&rt, id, SIGKILL, true, NULL);
    if (wait_stopped(s, id, KILL_WAIT_MS) > 0) {
        return 0;
    }
    return berth_error_set(err, ETIMEDOUT, "container %.12s did not stop", id);
}

int container_wait(struct store *s, const char *name_or_id, int *ret_code, struct berth_error **err)
{
    _cleanup_free_ char *id = NULL;
    int r = container_resolve(s, name_or_id, &id, err);
    if (r < 0) {
        return r;
    }
    (void)wait_stopped(s, id, -1);
    struct container_state_file st = {0};
    r = container_status(s, id, &st, err);
    if (r < 0) {
        return r;
    }
    *ret_code = st.exit_code;
    container_state_file_release(&st);
    return 0;
}

int container_rm(struct store *s, const char *name_or_id, bool force, struct berth_error **err)
{
    _cleanup_free_ char *id = NULL, *status = NULL;
    int r = container_resolve_status(s, name_or_id, &id, &status, err);
    if (r < 0) {
        return r;
    }
    bool running = streq(status, "running") || streq(status, "paused");
    if ((running || streq(status, "restarting")) && !force) {
        return berth_error_set(err, EBUSY,
                               "You cannot remove a %s container %s. Stop the container "
                               "before attempting removal or force remove",
                               running ? "running" : "restarting", id);
    }
    struct berth_runtime rt = container_runtime(s);
    /* No restart policy may bring it back, whatever state it is in (an exit
     * handler waiting out its backoff checks this before it starts). */
    set_stopped_by_user(s, id, "rm");
    if (running) {
        (void)berth_runtime_kill(&rt, id, SIGKILL, true, NULL);
        (void)wait_stopped(s, id, KILL_WAIT_MS);
    }
    /* Whatever a killed monitor left: runtime state, mounts, bundle,
     * ports, leases and veths. */
    network_attach_stop(s, id);
    (void)berth_runtime_delete(&rt, id, true, NULL);
    _cleanup_free_ char *bundle = bundle_dir(s, id);
    (void)rm_rf_at(AT_FDCWD, bundle, NULL);
    r = container_remove(s, id, err);
    if (r == -ENOENT) {
        /* An AutoRemove container's exit handler got there first. */
        berth_error_free(*err);
        *err = NULL;
        return 0;
    }
    return r;
}

/* ---- command and inspect ------------------------------------------------ */

static void push_json_strings(char ***v, json_t *a)
{
    if (json_is_string(a)) {
        strv_push(v, json_string_value(a));
        return;
    }
    for (size_t i = 0; i < json_array_size(a); i++) {
        const char *x = json_string_value(json_array_get(a, i));
        if (x) {
            strv_push(v, x);
        }
    }
}

char **container_command(json_t *body, const struct image_config *img)
{
    char **v = xcalloc(1, sizeof(char *));
    json_t *ep = json_object_get(body, "Entrypoint");
    json_t *cmd = json_object_get(body, "Cmd");
    bool body_ep = ep && !json_is_null(ep);
    bool body_cmd = cmd && !json_is_null(cmd) && json_array_size(cmd) > 0;
    if (body_ep) {
        push_json_strings(&v, ep);
        if (v[0] && !*v[0] && !v[1]) {
            strv_free(v); /* --entrypoint "": none */
            v = xcalloc(1, sizeof(char *));
        }
    } else if (img && img->entrypoint) {
        STRV_FOREACH(e, img->entrypoint)
        {
            strv_push(&v, *e);
        }
    }
    if (body_cmd) {
        push_json_strings(&v, cmd);
    } else if (!body_ep && img && img->cmd) {
        STRV_FOREACH(c, img->cmd)
        {
            strv_push(&v, *c);
        }
    }
    return v;
}

static json_t *jstr_or_empty(const char *s)
{
    return json_string(s ? s : "");
}

static json_t *strv_json(char **v)
{
    json_t *a = json_array();
    STRV_FOREACH(x, v)
    {
        json_array_append_new(a, json_string(*x));
    }
    return a;
}

/* Docker's merged Config: the image's defaults under the body's values. */
static json_t *merged_config(const struct container_record *c, const struct image_config *img)
{
    json_t *b = c->body;
    json_t *o = json_object();
    const char *hostname = body_str(b, "Hostname");
    _cleanup_free_ char *short_id = xstrndup(c->id, 12);
    json_object_set_new(o, "Hostname", json_string(hostname && *hostname ? hostname : short_id));
    json_object_set_new(o, "Domainname", jstr_or_empty(body_str(b, "Domainname")));
    const char *user = body_str(b, "User");
    json_object_set_new(o, "User", jstr_or_empty(user && *user ? user : img ? img->user : NULL));
    static const char *const bools[] = {"AttachStdin", "AttachStdout", "AttachStderr",
                                        "Tty",         "OpenStdin",    "StdinOnce"};
    for (size_t i = 0; i < ARRAY_SIZE(bools); i++) {
        json_object_set_new(o, bools[i], json_boolean(json_is_true(json_object_get(b, bools[i]))));
    }
    _cleanup_strv_free_ char **env = img ? strv_copy(img->env) : xcalloc(1, sizeof(char *));
    json_t *benv = json_object_get(b, "Env");
    for (size_t i = 0; i < json_array_size(benv); i++) {
        const char *e = json_string_value(json_array_get(benv, i));
        if (e) {
            strv_env_set(&env, e);
        }
    }
    json_object_set_new(o, "Env", strv_json(env));
    json_t *bcmd = json_object_get(b, "Cmd");
    json_t *bep = json_object_get(b, "Entrypoint");
    bool body_ep = bep && !json_is_null(bep);
    if (bcmd && json_array_size(bcmd) > 0) {
        json_object_set(o, "Cmd", bcmd);
    } else if (!body_ep && img && img->cmd) {
        json_object_set_new(o, "Cmd", strv_json(img->cmd));
    } else {
        json_object_set_new(o, "Cmd", json_null());
    }
    json_object_set_new(o, "Image", jstr_or_empty(c->image_name));
    json_t *vols = json_object_get(b, "Volumes");
    json_object_set(o, "Volumes", vols ? vols : json_null());
    const char *wd = body_str(b, "WorkingDir");
    json_object_set_new(o, "WorkingDir",
                        jstr_or_empty(wd && *wd ? wd
                                      : img     ? img->working_dir
                                                : NULL));
    if (body_ep) {
        json_object_set(o, "Entrypoint", bep);
    } else if (img && img->entrypoint) {
        json_object_set_new(o, "Entrypoint", strv_json(img->entrypoint));
    } else {
        json_object_set_new(o, "Entrypoint", json_null());
    }
    json_object_set_new(o, "OnBuild", json_null());
    json_t *labels = json_object();
    if (img && json_is_object(img->labels)) {
        json_object_update(labels, img->labels);
    }
    if (json_is_object(json_object_get(b, "Labels"))) {
        json_object_update(labels, json_object_get(b, "Labels"));
    }
    json_object_set_new(o, "Labels", labels);
    const char *ss = body_str(b, "StopSignal");
    if ((ss && *ss) || (img && img->stop_signal)) {
        json_object_set_new(o, "StopSignal", json_string(ss && *ss ? ss : img->stop_signal));
    }
    return o;
}

int container_inspect_json(struct store *s, const char *name_or_id, json_t **ret,
                           struct berth_error **err)
{
    _cleanup_free_ char *id = NULL;
    int r = container_resolve(s, name_or_id, &id, err);
    if (r < 0) {
        return r;
    }
    _cleanup_(container_record_freep) struct container_record *c = NULL;
    r = container_record_get(s, id, &c, err);
    if (r < 0) {
        return r;
    }
    struct container_state_file st = {0};
    r = container_status(s, id, &st, err);
    if (r < 0) {
        return r;
    }
    _cleanup_(image_info_freep) struct image_info *img = NULL;
    (void)image_get(s, c->image_id, &img, NULL);
    const struct image_config *ic = img ? img->config : NULL;
    _cleanup_strv_free_ char **cmd = container_command(c->body, ic);
    json_t *o = json_object();
    json_object_set_new(o, "Id", json_string(c->id));
    json_object_set_new(o, "Created", json_string(c->created));
    json_object_set_new(o, "Path", jstr_or_empty(cmd[0]));
    json_object_set_new(o, "Args", strv_json(cmd[0] ? cmd + 1 : cmd));
    json_t *state = json_object();
    bool running = streq(st.status, "running") || streq(st.status, "paused");
    json_object_set_new(state, "Status", json_string(st.status));
    json_object_set_new(state, "Running", json_boolean(running));
    json_object_set_new(state, "Paused", json_boolean(streq(st.status, "paused")));
    json_object_set_new(state, "Restarting", json_boolean(streq(st.status, "restarting")));
    json_object_set_new(state, "OOMKilled", json_boolean(st.oom_killed));
    json_object_set_new(state, "Dead", json_boolean(streq(st.status, "dead")));
    json_object_set_new(state, "Pid", json_integer(running ? st.pid : 0));
    json_object_set_new(state, "ExitCode", json_integer(st.exit_code));
    json_object_set_new(state, "Error", jstr_or_empty(st.error));
    json_object_set_new(state, "StartedAt", jstr_or_empty(st.started_at));
    json_object_set_new(state, "FinishedAt", jstr_or_empty(st.finished_at));
    json_t *health = container_health_json(s, c, st.started_at);
    if (health) {
        json_object_set_new(state, "Health", health);
    }
    json_object_set_new(o, "State", state);
    json_object_set_new(o, "Image", json_string(c->image_id));
    _cleanup_free_ char *dir = xasprintf("%s/containers/%s", s->root, c->id);
    _cleanup_free_ char *p_resolv = xasprintf("%s/resolv.conf", dir);
    _cleanup_free_ char *p_hostname = xasprintf("%s/hostname", dir);
    _cleanup_free_ char *p_hosts = xasprintf("%s/hosts", dir);
    _cleanup_free_ char *log_name = monitor_log_name(
        c->id, body_str(json_object_get(host_config(c->body), "LogConfig"), "Type"), NULL);
    /* Docker's LogPath is "" for a driver without a file ("none"). */
    _cleanup_free_ char *p_log = log_name ? xasprintf("%s/%s", dir, log_name) : xstrdup("");
    json_object_set_new(o, "ResolvConfPath", json_string(p_resolv));
    json_object_set_new(o, "HostnamePath", json_string(p_hostname));
    json_object_set_new(o, "HostsPath", json_string(p_hosts));
    json_object_set_new(o, "LogPath", json_string(p_log));
    _cleanup_free_ char *slash_name = xasprintf("/%s", c->name);
    json_object_set_new(o, "Name", json_string(slash_name));
    json_object_set_new(o, "RestartCount", json_integer(st.restart_count));
    json_object_set_new(o, "Driver", json_string(streq(s->driver, "overlay") ? "overlay2" : "vfs"));
    json_object_set_new(o, "Platform", json_string("linux"));
    json_object_set_new(o, "MountLabel", json_string(""));
    json_object_set_new(o, "ProcessLabel", json_string(""));
    json_object_set_new(o, "AppArmorProfile", json_string(""));
    json_object_set_new(o, "ExecIDs", json_null());
    json_t *hc = host_config(c->body);
    json_object_set_new(o, "HostConfig", hc ? json_deep_copy(hc) : json_object());
    json_t *gd = json_object();
    json_t *gdd = json_object();
    if (streq(s->driver, "overlay")) {
        _cleanup_free_ char *upper = xasprintf("%s/upper", dir);
        _cleanup_free_ char *work = xasprintf("%s/work", dir);
        _cleanup_free_ char *merged = xasprintf("%s/containers/%s/rootfs", s->runroot, c->id);
        json_object_set_new(gdd, "MergedDir", json_string(merged));
        json_object_set_new(gdd, "UpperDir", json_string(upper));
        json_object_set_new(gdd, "WorkDir", json_string(work));
    } else {
        _cleanup_free_ char *rootfs = xasprintf("%s/rootfs", dir);
        json_object_set_new(gdd, "Dir", json_string(rootfs));
    }
    json_object_set_new(gd, "Data", gdd);
    json_object_set_new(gd, "Name", json_string(streq(s->driver, "overlay") ? "overlay2" : "vfs"));
    json_object_set_new(o, "GraphDriver", gd);
    json_t *mounts = NULL;
    if (container_mounts_inspect(s, c->id, &mounts, NULL) < 0) {
        mounts = json_array();
    }
    json_object_set_new(o, "Mounts", mounts);
    json_object_set_new(o, "Config", merged_config(c, ic));
    json_object_set_new(o, "NetworkSettings", network_attach_settings(s, c, running));
    container_state_file_release(&st);
    *ret = o;
    return 0;
}
