/* test-oci-spec.c - ContainerCreate body + image config -> config.json.
 *
 * Every document produced here is also fed to the runtime's own parser
 * (oci_spec_parse), so a default berth writes is one berth can run. The
 * default seccomp profile is compiled with the runtime's compiler and loaded
 * in fork()ed children (no_new_privs, no root needed) to check what a
 * process under it can and cannot do.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "unit-json.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/sched.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "basic/alloc.h"
#include "basic/strv.h"
#include "libberth/common/json-util.h"
#include "libberth/container/oci-spec.h"
#include "libberth/runtime/caps.h"
#include "libberth/runtime/seccomp.h"
#include "libberth/runtime/spec.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

/* Bodies are written with single quotes for readability. */

static struct oci_spec_context base_ctx(void)
{
    return (struct oci_spec_context){
        .id = ID,
        .rootfs = "/var/lib/berth/overlay/x/merged",
        .cgroups_path = "/berth/" ID,
        .cgroup2 = true,
    };
}

/* An image with `CMD ["sh"]` and nothing else. */
static struct image_config *sh_image(void)
{
    static char *cmd[] = {"sh", NULL};
    static struct image_config img = {.cmd = cmd};
    return &img;
}

/* Generate and check that the runtime accepts the result. */
static json_t *gen_ctx(const char *body_text, const struct image_config *img,
                       const struct oci_spec_context *ctx)
{
    json_t *body = J(body_text);
    json_t *doc = NULL;
    struct berth_error *err = NULL;
    int r = container_oci_spec(body, img, ctx, &doc, &err);
    json_decref(body);
    if (r < 0) {
        fail_msg("container_oci_spec failed: %s\nbody: %s", err ? err->msg : "?", body_text);
    }
    assert_null(err);
    struct oci_spec *s = NULL;
    r = oci_spec_parse(doc, "/bundle", &s, &err);
    if (r < 0) {
        _cleanup_free_ char *dump = json_dumps(doc, JSON_INDENT(1));
        fail_msg("runtime rejects the generated config: %s\n%s", err ? err->msg : "?", dump);
    }
    if (json_object_get(json_object_get(doc, "linux"), "seccomp")) {
        struct seccomp_program *prog = NULL;
        r = seccomp_program_compile(json_object_get(json_object_get(doc, "linux"), "seccomp"),
                                    &prog, &err);
        if (r < 0) {
            fail_msg("seccomp profile does not compile: %s", err ? err->msg : "?");
        }
        seccomp_program_free(prog);
    }
    oci_spec_free(s);
    return doc;
}

static json_t *gen(const char *body_text, const struct image_config *img)
{
    struct oci_spec_context ctx = base_ctx();
    return gen_ctx(body_text, img, &ctx);
}

static void expect_err_ctx(const char *body_text, const struct image_config *img,
                           const struct oci_spec_context *ctx, const char *want)
{
    json_t *body = J(body_text);
    json_t *doc = NULL;
    struct berth_error *err = NULL;
    int r = container_oci_spec(body, img, ctx, &doc, &err);
    json_decref(body);
    if (r >= 0) {
        json_decref(doc);
        fail_msg("expected error '%s', got success\nbody: %s", want, body_text);
    }
    assert_null(doc);
    assert_non_null(err);
    if (!strstr(err->msg, want)) {
        fail_msg("error '%s' does not contain '%s'", err->msg, want);
    }
    assert_int_equal(r, -err->code);
    berth_error_free(err);
}

static void expect_err(const char *body_text, const struct image_config *img, const char *want)
{
    struct oci_spec_context ctx = base_ctx();
    expect_err_ctx(body_text, img, &ctx, want);
}

/* Path lookup "a.b.c" (numbers index arrays). */
static json_t *at(json_t *j, const char *path)
{
    _cleanup_strv_free_ char **parts = strv_split(path, ".");
    for (size_t i = 0; parts && parts[i] && j; i++) {
        if (json_is_array(j)) {
            j = json_array_get(j, strtoul(parts[i], NULL, 10));
        } else {
            j = json_object_get(j, parts[i]);
        }
    }
    return j;
}

/* The array of strings at path, joined with ' '. */
static char *joined(json_t *doc, const char *path)
{
    json_t *a = at(doc, path);
    if (!json_is_array(a)) {
        return xstrdup("<absent>");
    }
    _cleanup_strv_free_ char **v = NULL;
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        strv_push(&v, json_is_string(e) ? json_string_value(e) : "<non-string>");
    }
    return v ? strv_join(v, " ") : xstrdup("");
}

static void assert_strs(json_t *doc, const char *path, const char *want)
{
    _cleanup_free_ char *got = joined(doc, path);
    if (!streq(got, want)) {
        fail_msg("%s: got '%s', want '%s'", path, got, want);
    }
}

static bool strs_has(json_t *a, const char *s)
{
    size_t i;
    json_t *e;
    json_array_foreach(a, i, e)
    {
        if (json_is_string(e) && streq(json_string_value(e), s)) {
            return true;
        }
    }
    return false;
}

static json_t *mount_at(json_t *doc, const char *dest)
{
    size_t i;
    json_t *m;
    json_t *found = NULL;
    int n = 0;
    json_array_foreach(json_object_get(doc, "mounts"), i, m)
    {
        if (streq(json_string_value(json_object_get(m, "destination")), dest)) {
            found = m;
            n++;
        }
    }
    if (n > 1) {
        fail_msg("%d mounts at '%s'", n, dest);
    }
    return found;
}

static bool has_ns(json_t *doc, const char *type, const char **ret_path)
{
    size_t i;
    json_t *n;
    json_array_foreach(at(doc, "linux.namespaces"), i, n)
    {
        if (streq(json_string_value(json_object_get(n, "type")), type)) {
            if (ret_path) {
                *ret_path = json_string_value(json_object_get(n, "path"));
            }
            return true;
        }
    }
    return false;
}

static json_int_t ival(json_t *doc, const char *path)
{
    json_t *v = at(doc, path);
    if (!json_is_integer(v)) {
        fail_msg("%s: not an integer", path);
    }
    return json_integer_value(v);
}

/* ------------------------------------------------------------------------ */

static void test_entrypoint_cmd(void **state)
{
    (void)state;
    static char *ep[] = {"/entry.sh", "-x", NULL};
    static char *cmd[] = {"serve", "--port", "80", NULL};
    struct image_config img = {.entrypoint = ep, .cmd = cmd};
    json_t *d;

    /* Image only: Entrypoint + Cmd. */
    d = gen("{}", &img);
    assert_strs(d, "process.args", "/entry.sh -x serve --port 80");
    json_decref(d);
    /* Body Cmd replaces the image's Cmd, keeps its Entrypoint. */
    d = gen("{'Cmd':['debug']}", &img);
    assert_strs(d, "process.args", "/entry.sh -x debug");
    json_decref(d);
    /* Body Entrypoint resets the image Cmd. */
    d = gen("{'Entrypoint':['/bin/echo']}", &img);
    assert_strs(d, "process.args", "/bin/echo");
    json_decref(d);
    d = gen("{'Entrypoint':['/bin/echo'],'Cmd':['hi']}", &img);
    assert_strs(d, "process.args", "/bin/echo hi");
    json_decref(d);
    /* `--entrypoint ""`: no entrypoint at all, the body's command alone. */
    d = gen("{'Entrypoint':[''],'Cmd':['ls','-l']}", &img);
    assert_strs(d, "process.args", "ls -l");
    json_decref(d);
    /* A string is a one-element list (the API's StrSlice). */
    d = gen("{'Cmd':'date','Entrypoint':null}", sh_image());
    assert_strs(d, "process.args", "date");
    json_decref(d);
    /* An empty Cmd falls back to the image's. */
    d = gen("{'Cmd':[]}", sh_image());
    assert_strs(d, "process.args", "sh");
    json_decref(d);

    /* Nothing to run. */
    struct image_config none = {0};
    expect_err("{}", &none, "No command specified");
    expect_err("{'Entrypoint':['']}", &img, "No command specified");
    expect_err("{}", NULL, "No command specified");
    expect_err("{'Cmd':[1]}", sh_image(), "Cmd");
}

static void test_env(void **state)
{
    (void)state;
    static char *env[] = {"PATH=/opt/bin:/bin", "A=image", "KEEP=1", NULL};
    static char *cmd[] = {"sh", NULL};
    struct image_config img = {.env = env, .cmd = cmd};

    json_t *d = gen("{'Env':['A=body','B=2']}", &img);
    assert_strs(d, "process.env", "PATH=/opt/bin:/bin HOSTNAME=0123456789ab A=body KEEP=1 B=2");
    json_decref(d);

    /* No PATH in the image: Docker's default; no TERM without a tty. */
    d = gen("{'Env':['X=1']}", sh_image());
    assert_strs(d, "process.env",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin "
                "HOSTNAME=0123456789ab X=1");
    assert_false(json_is_true(at(d, "process.terminal")));
    json_decref(d);

    /* A tty brings TERM=xterm, which the body can override. */
    d = gen("{'Tty':true}", sh_image());
    assert_true(strs_has(at(d, "process.env"), "TERM=xterm"));
    assert_true(json_is_true(at(d, "process.terminal")));
    json_decref(d);
    d = gen("{'Tty':true,'Env':['TERM=vt100']}", sh_image());
    assert_true(strs_has(at(d, "process.env"), "TERM=vt100"));
    assert_false(strs_has(at(d, "process.env"), "TERM=xterm"));
    json_decref(d);

    expect_err("{'Env':['=x']}", sh_image(), "Env[0]: invalid environment variable '=x'");
    expect_err("{'Env':'A=1'}", sh_image(), "Env: expected");
}

static void test_user_cwd(void **state)
{
    (void)state;
    static char *cmd[] = {"sh", NULL};
    struct image_config img = {.cmd = cmd, .working_dir = "/srv"};
    gid_t extra[] = {27, 100};
    struct oci_spec_context ctx = base_ctx();
    ctx.user = (struct oci_spec_user){1000, 1001, extra, 2};

    json_t *d = gen_ctx("{}", &img, &ctx);
    assert_string_equal(json_string_value(at(d, "process.cwd")), "/srv");
    assert_int_equal(ival(d, "process.user.uid"), 1000);
    assert_int_equal(ival(d, "process.user.gid"), 1001);
    assert_int_equal(json_array_size(at(d, "process.user.additionalGids")), 2);
    assert_int_equal(ival(d, "process.user.additionalGids.1"), 100);
    json_decref(d);

    d = gen("{'WorkingDir':'/work'}", &img);
    assert_string_equal(json_string_value(at(d, "process.cwd")), "/work");
    json_decref(d);
    d = gen("{}", sh_image());
    assert_string_equal(json_string_value(at(d, "process.cwd")), "/");
    json_decref(d);

    expect_err("{'WorkingDir':'rel/dir'}", &img,
               "WorkingDir: the working directory 'rel/dir' is invalid, it needs to be an "
               "absolute path");
}

#define DOCKER_CAPS                                                                                \
    "CAP_CHOWN CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETGID CAP_SETUID "             \
    "CAP_SETPCAP CAP_NET_BIND_SERVICE CAP_NET_RAW CAP_SYS_CHROOT CAP_MKNOD CAP_AUDIT_WRITE "       \
    "CAP_SETFCAP"

static void test_caps(void **state)
{
    (void)state;
    json_t *d = gen("{}", sh_image());
    assert_strs(d, "process.capabilities.bounding", DOCKER_CAPS);
    assert_strs(d, "process.capabilities.effective", DOCKER_CAPS);
    assert_strs(d, "process.capabilities.permitted", DOCKER_CAPS);
    assert_strs(d, "process.capabilities.inheritable", "");
    assert_strs(d, "process.capabilities.ambient", "");
    json_decref(d);

    /* Any case, with or without the prefix. */
    d = gen("{'HostConfig':{'CapAdd':['sys_admin','CAP_Net_Admin'],'CapDrop':['chown','MKNOD']}}",
            sh_image());
    json_t *b = at(d, "process.capabilities.bounding");
    assert_true(strs_has(b, "CAP_SYS_ADMIN"));
    assert_true(strs_has(b, "CAP_NET_ADMIN"));
    assert_false(strs_has(b, "CAP_CHOWN"));
    assert_false(strs_has(b, "CAP_MKNOD"));
    assert_true(strs_has(b, "CAP_KILL"));
    assert_int_equal(json_array_size(b), 14);
    json_decref(d);

    d = gen("{'HostConfig':{'CapDrop':['ALL'],'CapAdd':['NET_BIND_SERVICE']}}", sh_image());
    assert_strs(d, "process.capabilities.bounding", "CAP_NET_BIND_SERVICE");
    json_decref(d);
    d = gen("{'HostConfig':{'CapDrop':['all']}}", sh_image());
    assert_strs(d, "process.capabilities.effective", "");
    json_decref(d);

    /* "All" is what the kernel has and berth may still grant (its own
     * bounding set: a sandbox may lack some, e.g. CAP_SYS_RESOURCE). */
    int all = 0;
    for (int c = 0; c <= berth_cap_last() && c < berth_cap_count(); c++) {
        all += prctl(PR_CAPBSET_READ, c, 0, 0, 0) == 1;
    }
    d = gen("{'HostConfig':{'CapAdd':['ALL'],'CapDrop':['NET_RAW']}}", sh_image());
    b = at(d, "process.capabilities.bounding");
    assert_int_equal(json_array_size(b), all - 1);
    assert_true(strs_has(b, "CAP_SYS_ADMIN"));
    assert_false(strs_has(b, "CAP_NET_RAW"));
    json_decref(d);

    d = gen("{'HostConfig':{'Privileged':true,'CapDrop':['CHOWN']}}", sh_image());
    assert_int_equal(json_array_size(at(d, "process.capabilities.bounding")), all);
    assert_strs(d, "process.capabilities.ambient", "");
    json_decref(d);

    expect_err("{'HostConfig':{'CapAdd':['CAP_BOGUS']}}", sh_image(),
               "HostConfig.CapAdd: unknown capability 'CAP_BOGUS'");
    expect_err("{'HostConfig':{'CapDrop':['chown','nope']}}", sh_image(),
               "HostConfig.CapDrop: unknown capability 'CAP_NOPE'");
}

static void test_privileged_paths(void **state)
{
    (void)state;
    json_t *d = gen("{}", sh_image());
    assert_strs(d, "linux.maskedPaths",
                "/proc/asound /proc/acpi /proc/kcore /proc/keys /proc/latency_stats "
                "/proc/timer_list /proc/timer_stats /proc/sched_debug /proc/scsi /sys/firmware "
                "/sys/devices/virtual/powercap");
    assert_strs(d, "linux.readonlyPaths",
                "/proc/bus /proc/fs /proc/irq /proc/sys /proc/sysrq-trigger");
    assert_true(strs_has(at(mount_at(d, "/sys"), "options"), "ro"));
    assert_true(strs_has(at(mount_at(d, "/sys/fs/cgroup"), "options"), "ro"));
    assert_non_null(at(d, "linux.seccomp"));
    assert_false(json_is_true(at(d, "root.readonly")));
    /* Deny-all first in the device cgroup, then the defaults. */
    assert_false(json_is_true(at(d, "linux.resources.devices.0.allow")));
    json_decref(d);

    d = gen("{'HostConfig':{'Privileged':true}}", sh_image());
    assert_null(at(d, "linux.maskedPaths"));
    assert_null(at(d, "linux.readonlyPaths"));
    assert_null(at(d, "linux.seccomp"));
    assert_false(strs_has(at(mount_at(d, "/sys"), "options"), "ro"));
    assert_true(strs_has(at(mount_at(d, "/sys"), "options"), "rw"));
    assert_true(json_is_true(at(d, "linux.resources.devices.0.allow")));
    assert_int_equal(json_array_size(at(d, "linux.resources.devices")), 1);
    json_decref(d);
}

static void test_readonly_rootfs(void **state)
{
    (void)state;
    struct oci_spec_context ctx = base_ctx();
    ctx.hosts_path = "/run/berth/c/hosts";
    ctx.hostname_path = "/run/berth/c/hostname";
    ctx.resolv_conf_path = "/run/berth/c/resolv.conf";
    json_t *d = gen_ctx("{'HostConfig':{'ReadonlyRootfs':true}}", sh_image(), &ctx);
    assert_true(json_is_true(at(d, "root.readonly")));
    assert_string_equal(json_string_value(at(d, "root.path")), ctx.rootfs);
    json_t *h = mount_at(d, "/etc/hosts");
    assert_non_null(h);
    assert_string_equal(json_string_value(at(h, "source")), "/run/berth/c/hosts");
    assert_true(strs_has(at(h, "options"), "ro"));
    assert_true(strs_has(at(mount_at(d, "/etc/resolv.conf"), "options"), "ro"));
    json_decref(d);

    d = gen_ctx("{}", sh_image(), &ctx);
    assert_false(json_is_true(at(d, "root.readonly")));
    assert_false(strs_has(at(mount_at(d, "/etc/hostname"), "options"), "ro"));
    json_decref(d);

    /* Without files in ctx there is no mount for them. */
    d = gen("{}", sh_image());
    assert_null(mount_at(d, "/etc/hosts"));
    json_decref(d);
}

static void test_resources(void **state)
{
    (void)state;
    json_t *d = gen("{'HostConfig':{'Memory':134217728,'NanoCpus':1500000000,'CpuShares':512,"
                    "'CpusetCpus':'0-1','PidsLimit':100,'MemoryReservation':67108864,"
                    "'OomKillDisable':true}}",
                    sh_image());
    assert_int_equal(ival(d, "linux.resources.memory.limit"), 134217728);
    /* Unset MemorySwap: as much swap again as memory. */
    assert_int_equal(ival(d, "linux.resources.memory.swap"), 268435456);
    assert_int_equal(ival(d, "linux.resources.memory.reservation"), 67108864);
    assert_true(json_is_true(at(d, "linux.resources.memory.disableOOMKiller")));
    assert_int_equal(ival(d, "linux.resources.cpu.quota"), 150000);
    assert_int_equal(ival(d, "linux.resources.cpu.period"), 100000);
    assert_int_equal(ival(d, "linux.resources.cpu.shares"), 512);
    assert_string_equal(json_string_value(at(d, "linux.resources.cpu.cpus")), "0-1");
    assert_int_equal(ival(d, "linux.resources.pids.limit"), 100);
    assert_string_equal(json_string_value(at(d, "linux.cgroupsPath")), "/berth/" ID);
    json_decref(d);

    d = gen("{'HostConfig':{'Memory':104857600,'MemorySwap':-1,'PidsLimit':-1}}", sh_image());
    assert_int_equal(ival(d, "linux.resources.memory.swap"), -1);
    assert_null(at(d, "linux.resources.pids"));
    json_decref(d);
    d = gen("{'HostConfig':{'Memory':104857600,'MemorySwap':209715200}}", sh_image());
    assert_int_equal(ival(d, "linux.resources.memory.swap"), 209715200);
    json_decref(d);
    d = gen("{'HostConfig':{'Memory':0,'PidsLimit':0}}", sh_image());
    assert_null(at(d, "linux.resources.memory"));
    assert_null(at(d, "linux.resources.cpu"));
    assert_null(at(d, "linux.resources.pids"));
    json_decref(d);

    expect_err("{'HostConfig':{'Memory':1048576}}", sh_image(),
               "HostConfig.Memory: Minimum memory limit allowed is 6MB");
    expect_err("{'HostConfig':{'Memory':104857600,'MemorySwap':52428800}}", sh_image(),
               "HostConfig.MemorySwap: Minimum memoryswap limit should be larger than memory");
    expect_err("{'HostConfig':{'MemorySwap':52428800}}", sh_image(),
               "HostConfig.MemorySwap: You should always set the Memory limit");
    expect_err("{'HostConfig':{'Memory':10485760,'MemoryReservation':20971520}}", sh_image(),
               "HostConfig.MemoryReservation:");
    expect_err("{'HostConfig':{'NanoCpus':-5}}", sh_image(), "HostConfig.NanoCpus:");
    expect_err("{'HostConfig':{'NanoCpus':1000000000,'CpuQuota':50000}}", sh_image(),
               "HostConfig.NanoCpus: Conflicting options");
    expect_err("{'HostConfig':{'Memory':'1g'}}", sh_image(), "HostConfig.Memory: expected");
    expect_err("{'HostConfig':{'CpusetCpus':'0;1'}}", sh_image(),
               "HostConfig.CpusetCpus: invalid value '0;1'");
}

static void test_ulimits(void **state)
{
    (void)state;
    json_t *body = J("{'HostConfig':{'Ulimits':[{'Name':'nofile','Soft':1024,'Hard':2048},"
                     "{'Name':'core','Soft':-1,'Hard':-1}]}}");
    struct oci_spec_context ctx = base_ctx();
    json_t *d = NULL;
    struct berth_error *err = NULL;
    assert_int_equal(container_oci_spec(body, sh_image(), &ctx, &d, &err), 0);
    json_decref(body);
    struct oci_spec *s = NULL;
    if (oci_spec_parse(d, "/bundle", &s, &err) < 0) {
        fail_msg("parse: %s", err->msg);
    }
    assert_int_equal(s->process->n_rlimits, 2);
    assert_int_equal(s->process->rlimits[0].resource, RLIMIT_NOFILE);
    assert_int_equal(s->process->rlimits[0].soft, 1024);
    assert_int_equal(s->process->rlimits[0].hard, 2048);
    assert_int_equal(s->process->rlimits[1].resource, RLIMIT_CORE);
    assert_true(s->process->rlimits[1].soft == UINT64_MAX);
    assert_true(s->process->rlimits[1].hard == UINT64_MAX);
    oci_spec_free(s);
    json_decref(d);

    /* No Ulimits: none set, the caller's limits are inherited. */
    d = gen("{}", sh_image());
    assert_int_equal(json_array_size(at(d, "process.rlimits")), 0);
    json_decref(d);

    expect_err("{'HostConfig':{'Ulimits':[{'Name':'nofiles','Soft':1,'Hard':1}]}}", sh_image(),
               "HostConfig.Ulimits[0].Name: invalid ulimit type 'nofiles'");
    expect_err("{'HostConfig':{'Ulimits':[{'Name':'nproc','Soft':10,'Hard':5}]}}", sh_image(),
               "HostConfig.Ulimits[0]: ulimit soft limit must be less than or equal to hard");
    expect_err("{'HostConfig':{'Ulimits':[{'Name':'nproc','Soft':10}]}}", sh_image(),
               "HostConfig.Ulimits[0].Hard: required field missing");
}

static void test_devices(void **state)
{
    (void)state;
    struct oci_spec_device devs[] = {
        {"/dev/fuse", 'c', 10, 229, 0666, 0, 0, "rwm"},
        {"/dev/xvdc", 'b', 202, 32, 0660, 0, 6, "r"},
    };
    struct oci_spec_context ctx = base_ctx();
    ctx.devices = devs;
    ctx.n_devices = 2;
    json_t *d = gen_ctx("{}", sh_image(), &ctx);
    assert_int_equal(json_array_size(at(d, "linux.devices")), 2);
    assert_string_equal(json_string_value(at(d, "linux.devices.0.path")), "/dev/fuse");
    assert_string_equal(json_string_value(at(d, "linux.devices.1.type")), "b");
    assert_int_equal(ival(d, "linux.devices.1.major"), 202);
    assert_int_equal(ival(d, "linux.devices.1.gid"), 6);
    assert_int_equal(ival(d, "linux.devices.0.fileMode"), 0666);
    /* The cgroup lets exactly that node through with its permissions. */
    json_t *rules = at(d, "linux.resources.devices");
    json_t *last = json_array_get(rules, json_array_size(rules) - 1);
    assert_true(json_is_true(at(last, "allow")));
    assert_string_equal(json_string_value(at(last, "type")), "b");
    assert_int_equal(ival(last, "minor"), 32);
    assert_string_equal(json_string_value(at(last, "access")), "r");
    json_decref(d);

    devs[1].permissions = "rwx";
    expect_err_ctx("{}", sh_image(), &ctx,
                   "HostConfig.Devices[1]: '/dev/xvdc': invalid permissions");
    devs[1].permissions = "r";
    devs[0].path_in_container = "dev/fuse";
    expect_err_ctx("{}", sh_image(), &ctx, "HostConfig.Devices[0]: 'dev/fuse': the path");
}

static void test_tmpfs_shm(void **state)
{
    (void)state;
    json_t *d = gen("{'HostConfig':{'Tmpfs':{'/run':'rw,size=64m,exec','/cache':''}}}", sh_image());
    assert_strs(mount_at(d, "/run"), "options", "nosuid nodev rw size=64m exec");
    assert_string_equal(json_string_value(at(mount_at(d, "/run"), "type")), "tmpfs");
    assert_strs(mount_at(d, "/cache"), "options", "noexec nosuid nodev");
    /* Default /dev/shm: 64 MiB. */
    assert_true(strs_has(at(mount_at(d, "/dev/shm"), "options"), "size=67108864"));
    json_decref(d);

    d = gen("{'HostConfig':{'ShmSize':134217728}}", sh_image());
    assert_true(strs_has(at(mount_at(d, "/dev/shm"), "options"), "size=134217728"));
    json_decref(d);

    /* A --tmpfs on /dev/shm replaces the default one (mount_at fails on two). */
    d = gen("{'HostConfig':{'Tmpfs':{'/dev/shm':'size=1m'}}}", sh_image());
    assert_strs(mount_at(d, "/dev/shm"), "options", "noexec nosuid nodev size=1m");
    json_decref(d);

    /* Extra mounts from the caller come last, replacing a default at the
     * same place. */
    struct oci_spec_context ctx = base_ctx();
    ctx.extra_mounts = J("[{'destination':'/data','type':'bind','source':'/srv/data',"
                         "'options':['rbind']},{'destination':'/dev/mqueue','type':'bind',"
                         "'source':'/tmp/mq','options':['rbind']}]");
    d = gen_ctx("{}", sh_image(), &ctx);
    json_t *mounts = json_object_get(d, "mounts");
    assert_string_equal(json_string_value(at(mounts, "1.destination")), "/dev");
    assert_string_equal(
        json_string_value(at(json_array_get(mounts, json_array_size(mounts) - 1), "destination")),
        "/dev/mqueue");
    assert_string_equal(json_string_value(at(mount_at(d, "/dev/mqueue"), "type")), "bind");
    assert_non_null(mount_at(d, "/data"));
    json_decref(d);
    json_decref(ctx.extra_mounts);

    expect_err("{'HostConfig':{'ShmSize':-1}}", sh_image(),
               "HostConfig.ShmSize: SHM size can not be less than 0");
    expect_err("{'HostConfig':{'Tmpfs':{'run':''}}}", sh_image(),
               "HostConfig.Tmpfs: invalid mount path 'run'");
    expect_err("{'HostConfig':{'Tmpfs':{'/run':5}}}", sh_image(), "HostConfig.Tmpfs./run:");
}

static void test_hostname(void **state)
{
    (void)state;
    json_t *d = gen("{}", sh_image());
    assert_string_equal(json_string_value(at(d, "hostname")), "0123456789ab");
    json_decref(d);
    /* at() splits on '.', so the annotation is looked up directly. */
    d = gen("{'Hostname':'web','Domainname':'example.org'}", sh_image());
    assert_string_equal(json_string_value(at(d, "hostname")), "web");
    assert_string_equal(json_string_value(at(d, "domainname")), "example.org");
    assert_true(strs_has(at(d, "process.env"), "HOSTNAME=web"));
    assert_string_equal(json_string_value(json_object_get(json_object_get(d, "annotations"),
                                                          "org.berth.container.id")),
                        ID);
    json_decref(d);
    expect_err("{'Hostname':'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa'}",
               sh_image(), "Hostname: ");
}

static void test_network_modes(void **state)
{
    (void)state;
    const char *path = "x";
    json_t *d = gen("{}", sh_image());
    assert_true(has_ns(d, "network", &path));
    assert_null(path);
    for (const char *t = "pid ipc uts mount"; *t;) {
        char name[8] = "";
        size_t n = strcspn(t, " ");
        memcpy(name, t, n);
        assert_true(has_ns(d, name, NULL));
        t += n + (t[n] == ' ');
    }
    json_decref(d);
    d = gen("{'HostConfig':{'NetworkMode':'none'}}", sh_image());
    assert_true(has_ns(d, "network", NULL));
    json_decref(d);

    d = gen("{'HostConfig':{'NetworkMode':'host'}}", sh_image());
    assert_false(has_ns(d, "network", NULL));
    char host[256] = "";
    assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
    assert_string_equal(json_string_value(at(d, "hostname")), host);
    json_decref(d);

    struct oci_spec_context ctx = base_ctx();
    ctx.netns_path = "/run/netns/berth-1";
    d = gen_ctx("{'HostConfig':{'NetworkMode':'container:abc'}}", sh_image(), &ctx);
    assert_true(has_ns(d, "network", &path));
    assert_string_equal(path, "/run/netns/berth-1");
    json_decref(d);

    d = gen("{'HostConfig':{'PidMode':'host','IpcMode':'host'}}", sh_image());
    assert_false(has_ns(d, "pid", NULL));
    assert_false(has_ns(d, "ipc", NULL));
    assert_true(has_ns(d, "uts", NULL));
    json_decref(d);

    expect_err("{'HostConfig':{'NetworkMode':'container:abc'}}", sh_image(),
               "HostConfig.NetworkMode: 'container:abc'");
    expect_err("{'HostConfig':{'NetworkMode':'host','Sysctls':{'net.ipv4.ip_forward':'1'}}}",
               sh_image(), "HostConfig.Sysctls: sysctl 'net.ipv4.ip_forward' is not allowed");
    expect_err("{'HostConfig':{'PidMode':'container:x'}}", sh_image(),
               "HostConfig.PidMode: unsupported mode");

    d = gen("{'HostConfig':{'Sysctls':{'net.ipv4.ip_forward':'1'}}}", sh_image());
    assert_string_equal(
        json_string_value(json_object_get(at(d, "linux.sysctl"), "net.ipv4.ip_forward")), "1");
    json_decref(d);
}

static void test_cgroupns(void **state)
{
    (void)state;
    struct oci_spec_context ctx = base_ctx();
    json_t *d = gen_ctx("{}", sh_image(), &ctx);
    assert_true(has_ns(d, "cgroup", NULL));
    json_decref(d);
    ctx.cgroup2 = false;
    d = gen_ctx("{}", sh_image(), &ctx);
    assert_false(has_ns(d, "cgroup", NULL));
    json_decref(d);
    d = gen_ctx("{'HostConfig':{'CgroupnsMode':'private'}}", sh_image(), &ctx);
    assert_true(has_ns(d, "cgroup", NULL));
    json_decref(d);
    ctx.cgroup2 = true;
    d = gen_ctx("{'HostConfig':{'CgroupnsMode':'host'}}", sh_image(), &ctx);
    assert_false(has_ns(d, "cgroup", NULL));
    json_decref(d);
    expect_err("{'HostConfig':{'CgroupnsMode':'shared'}}", sh_image(),
               "HostConfig.CgroupnsMode: invalid value 'shared'");
}

static void test_security_opts(void **state)
{
    (void)state;
    json_t *d = gen("{'HostConfig':{'SecurityOpt':['seccomp=unconfined']}}", sh_image());
    assert_null(at(d, "linux.seccomp"));
    assert_non_null(at(d, "linux.maskedPaths"));
    assert_false(json_is_true(at(d, "process.noNewPrivileges")));
    json_decref(d);

    d = gen("{'HostConfig':{'SecurityOpt':['no-new-privileges','label=disable']}}", sh_image());
    assert_true(json_is_true(at(d, "process.noNewPrivileges")));
    assert_non_null(at(d, "linux.seccomp"));
    json_decref(d);
    d = gen("{'HostConfig':{'SecurityOpt':['no-new-privileges:true']}}", sh_image());
    assert_true(json_is_true(at(d, "process.noNewPrivileges")));
    json_decref(d);

    /* The docker CLI sends a --security-opt seccomp=<file>'s contents. */
    d = gen("{'HostConfig':{'SecurityOpt':['seccomp={\\'defaultAction\\':\\'SCMP_ACT_ALLOW\\',"
            "\\'syscalls\\':[{\\'names\\':[\\'uname\\'],\\'action\\':\\'SCMP_ACT_ERRNO\\'}]}']}}",
            sh_image());
    assert_string_equal(json_string_value(at(d, "linux.seccomp.defaultAction")), "SCMP_ACT_ALLOW");
    assert_strs(d, "linux.seccomp.syscalls.0.names", "uname");
    json_decref(d);

    /* A profile file given by the caller, in Docker's format: its includes
     * are resolved against the container's capabilities. */
    struct oci_spec_context ctx = base_ctx();
    ctx.seccomp_profile =
        J("{'defaultAction':'SCMP_ACT_ALLOW','syscalls':["
          "{'names':['getppid'],'action':'SCMP_ACT_ERRNO','includes':{'caps':['CAP_SYS_ADMIN']}},"
          "{'names':['gettid'],'action':'SCMP_ACT_ERRNO','excludes':{'caps':['CAP_SYS_ADMIN']}}]}");
    d = gen_ctx("{}", sh_image(), &ctx);
    assert_int_equal(json_array_size(at(d, "linux.seccomp.syscalls")), 1);
    assert_strs(d, "linux.seccomp.syscalls.0.names", "gettid");
    assert_null(at(d, "linux.seccomp.syscalls.0.excludes"));
    json_decref(d);
    d = gen_ctx("{'HostConfig':{'CapAdd':['SYS_ADMIN']}}", sh_image(), &ctx);
    assert_strs(d, "linux.seccomp.syscalls.0.names", "getppid");
    json_decref(d);
    json_decref(ctx.seccomp_profile);

    expect_err("{'HostConfig':{'SecurityOpt':['seccomp={broken']}}", sh_image(),
               "HostConfig.SecurityOpt: seccomp profile");
    expect_err("{'HostConfig':{'SecurityOpt':['apparmorx']}}", sh_image(),
               "HostConfig.SecurityOpt[0]: invalid --security-opt 1: 'apparmorx'");
    expect_err("{'HostConfig':{'SecurityOpt':['no-new-privileges=maybe']}}", sh_image(),
               "HostConfig.SecurityOpt[0]: invalid --security-opt 2");
    expect_err("{'HostConfig':{'OomScoreAdj':1001}}", sh_image(),
               "HostConfig.OomScoreAdj: Invalid value 1001");
    expect_err("{'HostConfig':[]}", sh_image(), "HostConfig: expected");
    expect_err("{'Tty':'yes'}", sh_image(), "Tty: expected");
}

/* ------------------------------------------------------------------------ */
/* The default profile, for real                                               */

#define CHILD_CHECK(cond)                                                                          \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            int e_ = errno;                                                                        \
            char buf_[256];                                                                        \
            int n_ = snprintf(buf_, sizeof(buf_), "child check failed, line %d: %s (errno %d)\n",  \
                              __LINE__, #cond, e_);                                                \
            (void)!write(STDERR_FILENO, buf_, (size_t)n_);                                         \
            _exit(3);                                                                              \
        }                                                                                          \
    } while (0)

static bool fails_with(long r, int e)
{
    return r == -1 && errno == e;
}

static json_t *default_profile_for(const char *body_text)
{
    json_t *d = gen(body_text, sh_image());
    json_t *p = json_incref(at(d, "linux.seccomp"));
    json_decref(d);
    assert_non_null(p);
    return p;
}

static void test_default_profile_shape(void **state)
{
    (void)state;
    json_t *raw = container_default_seccomp();
    assert_string_equal(json_string_value(at(raw, "defaultAction")), "SCMP_ACT_ERRNO");
    json_decref(raw);

    json_t *p = default_profile_for("{}");
    assert_int_equal(ival(p, "defaultErrnoRet"), EPERM);
#if defined(__x86_64__)
    assert_strs(p, "architectures", "SCMP_ARCH_X86_64 SCMP_ARCH_X86 SCMP_ARCH_X32");
#endif
    /* Resolved to OCI keys only, and no capability-gated entry survives
     * without its capability. */
    bool saw_mount = false, saw_clone_rule = false, saw_chroot = false;
    size_t i;
    json_t *c;
    json_array_foreach(at(p, "syscalls"), i, c)
    {
        assert_null(json_object_get(c, "includes"));
        assert_null(json_object_get(c, "excludes"));
        saw_mount |= strs_has(at(c, "names"), "mount");
        saw_chroot |= strs_has(at(c, "names"), "chroot");
        if (strs_has(at(c, "names"), "clone")) {
            saw_clone_rule = at(c, "args") != NULL;
        }
    }
    assert_false(saw_mount);
    assert_true(saw_clone_rule);
    assert_true(saw_chroot); /* CAP_SYS_CHROOT is in Docker's default set */
    json_decref(p);

    p = default_profile_for("{'HostConfig':{'CapAdd':['SYS_ADMIN'],'CapDrop':['SYS_CHROOT']}}");
    saw_mount = saw_chroot = false;
    json_array_foreach(at(p, "syscalls"), i, c)
    {
        saw_mount |= strs_has(at(c, "names"), "mount");
        saw_chroot |= strs_has(at(c, "names"), "chroot");
        if (strs_has(at(c, "names"), "clone")) {
            assert_null(at(c, "args")); /* any clone with CAP_SYS_ADMIN */
        }
    }
    assert_true(saw_mount);
    assert_false(saw_chroot);
    json_decref(p);
}

static void *thread_fn(void *arg)
{
    return arg;
}

static void body_default(void)
{
    /* Ordinary work: files, processes, threads, time, sockets. */
    char buf[64];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    CHILD_CHECK(fd >= 0);
    CHILD_CHECK(read(fd, buf, sizeof(buf)) > 0);
    close(fd);
    CHILD_CHECK(syscall(SYS_getpid) > 0);
    pid_t pid = fork();
    CHILD_CHECK(pid >= 0);
    if (pid == 0) {
        _exit(7);
    }
    int status;
    CHILD_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && WEXITSTATUS(status) == 7);
    /* glibc tries clone3 first and falls back to clone only on ENOSYS. */
    pthread_t t;
    CHILD_CHECK(pthread_create(&t, NULL, thread_fn, NULL) == 0);
    CHILD_CHECK(pthread_join(t, NULL) == 0);
    CHILD_CHECK(fails_with(syscall(SYS_clone3, NULL, 0), ENOSYS));
    struct timespec ts;
    CHILD_CHECK(clock_gettime(CLOCK_REALTIME, &ts) == 0);
    int sv[2];
    CHILD_CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
    CHILD_CHECK(personality(0xffffffff) >= 0);

    /* What the profile is for. */
    CHILD_CHECK(fails_with(unshare(CLONE_NEWUSER), EPERM));
    CHILD_CHECK(fails_with(unshare(CLONE_NEWNS), EPERM));
    CHILD_CHECK(
        fails_with(syscall(SYS_clone, (long)(CLONE_NEWUSER | SIGCHLD), 0L, 0L, 0L, 0L), EPERM));
    CHILD_CHECK(fails_with(syscall(SYS_keyctl, 0L, 0L, 0L, 0L, 0L), EPERM));
    CHILD_CHECK(fails_with(syscall(SYS_add_key, "user", "k", "v", 1L, -3L), EPERM));
    CHILD_CHECK(fails_with(syscall(SYS_request_key, "user", "k", NULL, 0L), EPERM));
    CHILD_CHECK(fails_with(personality(ADDR_NO_RANDOMIZE), EPERM));
    CHILD_CHECK(fails_with(syscall(SYS_mount, "none", "/mnt", "tmpfs", 0L, NULL), EPERM));
    CHILD_CHECK(fails_with(syscall(SYS_io_uring_setup, 1L, NULL), ENOSYS));
    CHILD_CHECK(fails_with(syscall(SYS_settimeofday, NULL, NULL), EPERM));
    CHILD_CHECK(fails_with(syscall(SYS_process_vm_readv, 1L, NULL, 0L, NULL, 0L, 0L), EPERM));
}

static void body_sys_admin(void)
{
    /* With CAP_SYS_ADMIN, namespaces are allowed again (the kernel then
     * decides: we run as root in the test). */
    CHILD_CHECK(unshare(CLONE_NEWUSER) == 0);
    CHILD_CHECK(fails_with(syscall(SYS_keyctl, 0L, 0L, 0L, 0L, 0L), EPERM));
}

static int run_under(json_t *profile, void (*body)(void))
{
    struct seccomp_program *prog = NULL;
    struct berth_error *err = NULL;
    if (seccomp_program_compile(profile, &prog, &err) < 0) {
        fail_msg("compile: %s", err->msg);
    }
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* cmocka's handlers would longjmp into the runner. */
        signal(SIGSYS, SIG_DFL);
        signal(SIGSEGV, SIG_DFL);
        struct rlimit no_core = {0, 0};
        setrlimit(RLIMIT_CORE, &no_core);
        CHILD_CHECK(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
        int nfd = -1;
        if (seccomp_program_load(prog, &nfd, &err) < 0) {
            dprintf(STDERR_FILENO, "load: %s\n", err ? err->msg : "?");
            _exit(2);
        }
        body();
        _exit(0);
    }
    seccomp_program_free(prog);
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    return status;
}

static void assert_exit_ok(int status)
{
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        fail_msg("child failed: %s %d", WIFEXITED(status) ? "exit" : "signal",
                 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
    }
}

static void test_default_profile_enforced(void **state)
{
    (void)state;
    json_t *p = default_profile_for("{}");
    assert_exit_ok(run_under(p, body_default));
    json_decref(p);
}

static void body_probe_userns(void)
{
    CHILD_CHECK(unshare(CLONE_NEWUSER) == 0);
}

static void test_sys_admin_profile(void **state)
{
    (void)state;
    /* Whether this host lets us make a user namespace at all. */
    json_t *allow = J("{'defaultAction':'SCMP_ACT_ALLOW'}");
    int st = run_under(allow, body_probe_userns);
    json_decref(allow);
    if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
        skip();
    }
    json_t *p = default_profile_for("{'HostConfig':{'CapAdd':['CAP_SYS_ADMIN']}}");
    assert_exit_ok(run_under(p, body_sys_admin));
    json_decref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_entrypoint_cmd),
        cmocka_unit_test(test_env),
        cmocka_unit_test(test_user_cwd),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_privileged_paths),
        cmocka_unit_test(test_readonly_rootfs),
        cmocka_unit_test(test_resources),
        cmocka_unit_test(test_ulimits),
        cmocka_unit_test(test_devices),
        cmocka_unit_test(test_tmpfs_shm),
        cmocka_unit_test(test_hostname),
        cmocka_unit_test(test_network_modes),
        cmocka_unit_test(test_cgroupns),
        cmocka_unit_test(test_security_opts),
        cmocka_unit_test(test_default_profile_shape),
        cmocka_unit_test(test_default_profile_enforced),
        cmocka_unit_test(test_sys_admin_profile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
