#include "caps.h"

#include <fcntl.h>
#include <linux/capability.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "basic/fileio.h"
#include "basic/parse.h"
#include "spec.h"

static const char *const cap_names[] = {
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
};

int berth_cap_count(void)
{
    return (int)ARRAY_SIZE(cap_names);
}

int berth_cap_from_name(const char *name)
{
    for (size_t i = 0; i < ARRAY_SIZE(cap_names); i++) {
        if (streq(cap_names[i], name)) {
            return (int)i;
        }
    }
    return -1;
}

const char *berth_cap_to_name(int cap)
{
    if (cap < 0 || (size_t)cap >= ARRAY_SIZE(cap_names)) {
        return NULL;
    }
    return cap_names[cap];
}

int berth_cap_last(void)
{
    static int last = -1;
    if (last >= 0) {
        return last;
    }
    char buf[32];
    _cleanup_close_ int fd = open("/proc/sys/kernel/cap_last_cap", O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read_all(fd, buf, sizeof(buf) - 1) : -1;
    int v = CAP_LAST_CAP;
    if (n > 0) {
        buf[n] = '\0';
        buf[strcspn(buf, "\n")] = '\0';
        if (parse_int(buf, &v) < 0) {
            v = CAP_LAST_CAP;
        }
    }
    last = v;
    return last;
}

int caps_drop_bounding(const struct oci_caps *caps, struct berth_error **err)
{
    int last = berth_cap_last();
    for (int c = 0; c <= last && c < 64; c++) {
        if (caps->bounding & (1ULL << c)) {
            continue;
        }
        if (prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0 && errno != EINVAL) {
            return berth_error_sys(err, errno, "drop '%s' from the bounding set",
                                   berth_cap_to_name(c) ? berth_cap_to_name(c) : "?");
        }
    }
    return 0;
}

int caps_set(const struct oci_caps *caps, struct berth_error **err)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    uint64_t mask = berth_cap_last() >= 63 ? ~0ULL : (1ULL << (berth_cap_last() + 1)) - 1;
    uint64_t eff = caps->effective & mask, prm = caps->permitted & mask;
    uint64_t inh = caps->inheritable & mask;
    data[0].effective = (uint32_t)eff;
    data[1].effective = (uint32_t)(eff >> 32);
    data[0].permitted = (uint32_t)prm;
    data[1].permitted = (uint32_t)(prm >> 32);
    data[0].inheritable = (uint32_t)inh;
    data[1].inheritable = (uint32_t)(inh >> 32);
    if (syscall(SYS_capset, &hdr, data) < 0) {
        return berth_error_sys(err, errno, "capset");
    }
    /* CVE-2022-29162: the ambient set is empty unless the config asks; clear
     * anything inherited first. */
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL) {
        return berth_error_sys(err, errno, "clear ambient capabilities");
    }
    uint64_t amb = caps->ambient & mask;
    for (int c = 0; c < 64; c++) {
        if (!(amb & (1ULL << c))) {
            continue;
        }
        /* The kernel only raises an ambient cap that is permitted and
         * inheritable; runc ignores the failure, so do we (with a reason). */
        if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, c, 0, 0) < 0 && errno != EPERM) {
            return berth_error_sys(err, errno, "raise ambient '%s'", berth_cap_to_name(c));
        }
    }
    return 0;
}

void caps_get_permitted(struct oci_caps *ret)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    memset(data, 0, sizeof(data));
    memset(ret, 0, sizeof(*ret));
    if (syscall(SYS_capget, &hdr, data) < 0) {
        return;
    }
    uint64_t prm = (uint64_t)data[0].permitted | ((uint64_t)data[1].permitted << 32);
    ret->bounding = ret->effective = ret->permitted = prm;
}

int caps_keep_on_setuid(int on)
{
    return prctl(PR_SET_KEEPCAPS, on ? 1 : 0, 0, 0, 0) < 0 ? -errno : 0;
}
