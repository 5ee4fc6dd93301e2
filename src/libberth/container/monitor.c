/* monitor.c - starting the monitor stub (see monitor.h). */
#include "libberth/container/monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/fd-util.h"
#include "basic/fileio.h"
#include "basic/macro.h"

extern char **environ;

/* Like runtime/linux.c's: a read-only, sealed copy of the stub, so that
 * what the container could reach as the monitor's /proc/<pid>/exe is
 * neither berth nor anything writable (CVE-2019-5736's lesson). */
static int monitor_memfd(void)
{
    int fd = memfd_create("berth-monitor", MFD_ALLOW_SEALING | MFD_CLOEXEC);
    if (fd < 0) {
        return -errno;
    }
    if (write_all(fd, berth_monitor_stub, berth_monitor_stub_len) < 0 ||
        fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE) < 0) {
        int e = -errno;
        close(fd);
        return e;
    }
    return fd;
}

static void fd_arg(char *buf, size_t size, int fd)
{
    if (fd < 0) {
        snprintf(buf, size, "-");
    } else {
        snprintf(buf, size, "%d", fd);
    }
}

int monitor_exec_stub(const struct monitor_stub_args *a, struct berth_error **err)
{
    if (!a->id || !a->log_name || a->init_pid <= 0 || a->stdout_fd < 0 || a->listen_fd < 0 ||
        a->berth_fd < 0 || strchr(a->log_name, '/') || !*a->log_name) {
        return berth_error_set(err, EINVAL, "monitor: invalid arguments");
    }
    const int fds[] = {a->stdout_fd,
                       a->stderr_fd,
                       a->stdin_fd,
                       a->listen_fd,
                       a->log_dirfd,
                       a->ready_fd,
                       a->berth_fd,
                       a->ctl_fd > 2 ? a->ctl_fd : -1,
                       a->hold_fd > 2 ? a->hold_fd : -1};
    for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
        int r = fds[i] < 0 ? 0 : fd_set_cloexec(fds[i], 0);
        if (r < 0) {
            return berth_error_sys(err, -r, "monitor: fd %d", fds[i]);
        }
    }
    char f[9][16], pid[16], max_size[24], max_files[16];
    for (size_t i = 0; i < ARRAY_SIZE(fds); i++) {
        fd_arg(f[i], sizeof(f[i]), fds[i]);
    }
    snprintf(pid, sizeof(pid), "%d", (int)a->init_pid);
    snprintf(max_size, sizeof(max_size), "%" PRIu64, a->log_max_size);
    snprintf(max_files, sizeof(max_files), "%u", a->log_max_files ? a->log_max_files : 1);

    size_t nextra = 0;
    while (a->extra && a->extra[nextra]) {
        nextra++;
    }
    const char **argv = xcalloc(19 + nextra, sizeof(char *));
    argv[0] = "berth-monitor";
    argv[1] = a->id;
    argv[2] = pid;
    argv[3] = f[0];
    argv[4] = f[1];
    argv[5] = f[2];
    argv[6] = f[3];
    argv[7] = f[4];
    argv[8] = a->log_name;
    argv[9] = max_size;
    argv[10] = max_files;
    argv[11] = f[5];
    argv[12] = f[6];
    argv[13] = a->stdin_once ? "1" : "0";
    argv[14] = f[7];
    char health[24];
    snprintf(health, sizeof(health), "%llu", (unsigned long long)a->health_interval_ms);
    argv[15] = health;
    argv[16] = a->log_format == MONITOR_LOG_K8S_FILE ? "k8s-file" : "json-file";
    argv[17] = f[8];
    for (size_t i = 0; i < nextra; i++) {
        argv[18 + i] = a->extra[i];
    }

    int stub = monitor_memfd();
    if (stub < 0) {
        free(argv);
        return berth_error_sys(err, -stub, "monitor: prepare the stub");
    }
    syscall(SYS_execveat, stub, "", argv, environ, AT_EMPTY_PATH);
    int e = errno;
    close(stub);
    free(argv);
    return berth_error_sys(err, e, "monitor: exec the stub");
}

bool monitor_log_driver_supported(const char *driver)
{
    return !driver || !*driver || strcmp(driver, "json-file") == 0 ||
           strcmp(driver, "k8s-file") == 0 || strcmp(driver, "none") == 0;
}

char *monitor_log_name(const char *id, const char *driver, enum monitor_log_format *ret_format)
{
    if (!driver || !*driver || strcmp(driver, "json-file") == 0) {
        if (ret_format) {
            *ret_format = MONITOR_LOG_JSON_FILE;
        }
        return xasprintf("%s-json.log", id);
    }
    if (strcmp(driver, "k8s-file") == 0) {
        if (ret_format) {
            *ret_format = MONITOR_LOG_K8S_FILE;
        }
        return xasprintf("%s-k8s.log", id);
    }
    return NULL;
}
