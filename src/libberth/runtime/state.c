#include "state.h"

#include <ctype.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#include "basic/alloc.h"
#include "basic/fileio.h"
#include "basic/parse.h"
#include "cgroup.h"
#include "common/json-util.h"

#define STATE_MAX (16u << 20)

int container_id_validate(const char *id, struct berth_error **err)
{
    size_t n = strlen(id);
    if (n == 0 || n > 1024 || streq(id, ".") || streq(id, "..")) {
        return berth_error_set(err, EINVAL, "invalid container id '%s'", id);
    }
    for (const char *p = id; *p; p++) {
        if (!isalnum((unsigned char)*p) && !strchr("_+.-", *p)) {
            return berth_error_set(err, EINVAL, "invalid container id '%s'", id);
        }
    }
    return 0;
}

const char *container_status_name(enum container_status st)
{
    static const char *const names[] = {"creating", "created", "running", "paused", "stopped"};
    return names[st];
}

int proc_pid_start_time(pid_t pid, uint64_t *ret, bool *ret_zombie)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    _cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    ssize_t n = read_all(fd, buf, sizeof(buf) - 1);
    if (n <= 0) {
        return n < 0 ? (int)n : -ESRCH;
    }
    buf[n] = '\0';
    /* comm may contain spaces and parentheses: parse after the last ')'. */
    char *p = strrchr(buf, ')');
    if (!p || p[1] != ' ') {
        return -EINVAL;
    }
    p += 2;
    char state = *p;
    /* Fields after comm: state(3) ... starttime(22): skip 19 more spaces. */
    for (int i = 0; i < 19 && p; i++) {
        p = strchr(p, ' ');
        if (p) {
            p++;
        }
    }
    if (!p) {
        return -EINVAL;
    }
    *ret = strtoull(p, NULL, 10);
    if (ret_zombie) {
        *ret_zombie = state == 'Z' || state == 'X';
    }
    return 0;
}

enum container_status container_state_refresh(struct container_state *s)
{
    if (s->pid <= 0) {
        s->status = STATUS_CREATING;
        return s->status;
    }
    uint64_t start = 0;
    bool zombie = false;
    if (proc_pid_start_time(s->pid, &start, &zombie) < 0 || zombie ||
        (s->pid_start && start != s->pid_start)) {
        s->status = STATUS_STOPPED;
        return s->status;
    }
    if (faccessat(s->dir_fd, "exec.fifo", F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
        s->status = STATUS_CREATED;
        return s->status;
    }
    s->status = STATUS_RUNNING;
    _cleanup_(cgroup_freep) struct cgroup *cg = NULL;
    bool frozen = false;
    if (cgroup_new(s->cgroup_path, s->id, s->systemd_cgroup, &cg, NULL) >= 0 &&
        cgroup_is_frozen(cg, &frozen, NULL) >= 0 && frozen) {
        s->status = STATUS_PAUSED;
    }
    return s->status;
}

static char *dup_opt(json_t *o, const char *key)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v ? xstrdup(v) : NULL;
}

int container_state_load(const char *root, const char *id, struct container_state **ret,
                         struct berth_error **err)
{
    int r = container_id_validate(id, err);
    if (r < 0) {
        return r;
    }
    _cleanup_(container_state_freep) struct container_state *s = xcalloc(1, sizeof(*s));
    s->hook_kinds = -1;
    s->id = xstrdup(id);
    s->dir = xasprintf("%s/%s", root, id);
    s->dir_fd = open(s->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (s->dir_fd < 0) {
        if (errno == ENOENT) {
            return berth_error_set(err, ENOENT, "container '%s' does not exist", id);
        }
        return berth_error_sys(err, errno, "open '%s'", s->dir);
    }
    _cleanup_json_ json_t *j = NULL;
    r = json_load_file_at(s->dir_fd, "state.json", STATE_MAX, &j, NULL);
    if (r < 0) {
        /* A create in progress or its remains. */
        s->status = STATUS_CREATING;
        *ret = TAKE_PTR(s);
        return 0;
    }
    s->pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
    s->pid_start = (uint64_t)json_integer_value(json_object_get(j, "pid_start"));
    s->bundle = dup_opt(j, "bundle");
    s->rootfs = dup_opt(j, "rootfs");
    s->created = dup_opt(j, "created");
    s->cgroup_path = dup_opt(j, "cgroup_path");
    s->systemd_cgroup = json_is_true(json_object_get(j, "systemd_cgroup"));
    s->use_terminal = json_is_true(json_object_get(j, "terminal"));
    s->owner = (uid_t)json_integer_value(json_object_get(j, "owner"));
    s->annotations = json_incref(json_object_get(j, "annotations"));
    json_t *hk = json_object_get(j, "hook_kinds");
    s->hook_kinds = json_is_integer(hk) ? (int)(json_integer_value(hk) & 0xffff) : -1;
    container_state_refresh(s);
    *ret = TAKE_PTR(s);
    return 0;
}

int container_state_save(const struct container_state *s, struct berth_error **err)
{
    _cleanup_json_ json_t *j =
        json_pack("{s:s, s:I, s:I, s:s?, s:s?, s:s?, s:s?, s:b, s:b, s:I, s:O?}", "id", s->id,
                  "pid", (json_int_t)s->pid, "pid_start", (json_int_t)s->pid_start, "bundle",
                  s->bundle, "rootfs", s->rootfs, "created", s->created, "cgroup_path",
                  s->cgroup_path, "systemd_cgroup", s->systemd_cgroup, "terminal", s->use_terminal,
                  "owner", (json_int_t)s->owner, "annotations", s->annotations);
    if (!j) {
        return berth_error_set(err, EINVAL, "encode state");
    }
    if (s->hook_kinds >= 0) {
        json_object_set_new(j, "hook_kinds", json_integer(s->hook_kinds));
    }
    _cleanup_free_ char *txt = json_dump_compact(j);
    return write_file_replace_at(s->dir_fd, "state.json", txt, strlen(txt), 0600, err);
}

json_t *container_state_to_oci_json(const struct container_state *s, bool runc_fields)
{
    json_t *j = json_pack("{s:s, s:s, s:s}", "ociVersion", "1.2.0", "id", s->id, "status",
                          container_status_name(s->status));
    if (s->status != STATUS_STOPPED && s->status != STATUS_CREATING) {
        json_object_set_new(j, "pid", json_integer(s->pid));
    } else if (runc_fields) {
        json_object_set_new(j, "pid", json_integer(0));
    }
    json_object_set_new(j, "bundle", json_string(s->bundle ? s->bundle : ""));
    if (runc_fields) {
        json_object_set_new(j, "rootfs", json_string(s->rootfs ? s->rootfs : ""));
        json_object_set_new(j, "created", json_string(s->created ? s->created : ""));
        json_object_set_new(j, "owner", json_string(""));
    }
    if (s->annotations && json_object_size(s->annotations)) {
        json_object_set(j, "annotations", s->annotations);
    } else if (runc_fields) {
        json_object_set_new(j, "annotations", json_object());
    }
    return j;
}

int container_state_lock(struct container_state *s, struct berth_error **err)
{
    if (RETRY_EINTR(flock(s->dir_fd, LOCK_EX)) < 0) {
        return berth_error_sys(err, errno, "lock '%s'", s->dir);
    }
    return 0;
}

void container_state_free(struct container_state *s)
{
    if (!s) {
        return;
    }
    free(s->id);
    free(s->dir);
    safe_close(s->dir_fd);
    free(s->bundle);
    free(s->rootfs);
    free(s->created);
    free(s->cgroup_path);
    json_decref(s->config);
    json_decref(s->annotations);
    free(s);
}

json_t *container_state_config(struct container_state *s)
{
    if (!s->config && !s->config_tried && s->dir_fd >= 0) {
        s->config_tried = true;
        json_load_file_at(s->dir_fd, "config.json", STATE_MAX, &s->config, NULL);
    }
    return s->config;
}
