/* Unit tests of the OCI config parser: what it accepts, and that every
 * rejection names the field a user has to fix. */
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include <cmocka.h>

#include "basic/alloc.h"
#include "basic/strbuf.h"
#include "libberth/common/json-util.h"
#include "libberth/runtime/spec-default.h"
#include "libberth/runtime/spec.h"

static struct oci_spec *parse_ok(json_t *doc)
{
    struct oci_spec *s = NULL;
    struct berth_error *e = NULL;
    int r = oci_spec_parse(doc, "/bundle", &s, &e);
    if (r < 0) {
        fail_msg("unexpected error: %s", e->msg);
    }
    return s;
}

/* Apply a JSON patch-like edit to the default spec and expect an error
 * containing `want`. */
static void expect_error(const char *path_json, const char *key, json_t *value, const char *want)
{
    json_t *doc = spec_default(false, 0, 0);
    json_t *target = doc;
    if (path_json) {
        char *copy = xstrdup(path_json), *save = NULL;
        for (char *t = strtok_r(copy, ".", &save); t; t = strtok_r(NULL, ".", &save)) {
            target = json_object_get(target, t);
        }
        free(copy);
    }
    assert_non_null(target);
    if (value) {
        json_object_set_new(target, key, value);
    } else {
        json_object_del(target, key);
    }
    struct oci_spec *s = NULL;
    struct berth_error *e = NULL;
    int r = oci_spec_parse(doc, "/bundle", &s, &e);
    assert_true(r < 0);
    assert_non_null(e);
    if (!strstr(e->msg, want)) {
        fail_msg("error '%s' does not contain '%s'", e->msg, want);
    }
    berth_error_free(e);
    json_decref(doc);
}

static void test_default_spec_parses(void **state)
{
    json_t *doc = spec_default(false, 0, 0);
    struct oci_spec *s = parse_ok(doc);
    assert_string_equal(s->root_path, "/bundle/rootfs");
    assert_true(s->root_readonly);
    assert_string_equal(s->process->args[0], "sh");
    assert_true(s->process->no_new_privileges);
    assert_int_equal(s->process->n_rlimits, 1);
    assert_int_equal(s->n_mounts, 7);
    assert_non_null(oci_spec_namespace(s, CLONE_NEWPID));
    assert_null(oci_spec_namespace(s, CLONE_NEWUSER));
    /* devpts options: flags parsed, the rest kept as data. */
    const struct oci_mount *pts = &s->mounts[2];
    assert_string_equal(pts->destination, "/dev/pts");
    assert_true(pts->flags & MS_NOSUID);
    assert_true(pts->flags & MS_NOEXEC);
    assert_string_equal(pts->data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
    /* cap sets as masks: CAP_KILL is 5 */
    assert_true(s->process->caps.bounding & (1ULL << 5));
    assert_false(s->process->caps.bounding & (1ULL << 21));
    oci_spec_free(s);
    json_decref(doc);
}

static void test_rootless_spec_parses(void **state)
{
    json_t *doc = spec_default(true, 1000, 1000);
    struct oci_spec *s = parse_ok(doc);
    assert_non_null(oci_spec_namespace(s, CLONE_NEWUSER));
    assert_null(oci_spec_namespace(s, CLONE_NEWNET));
    assert_int_equal(s->linux_.uid_mappings[0].host_id, 1000);
    oci_spec_free(s);
    json_decref(doc);
}

static void test_errors_name_fields(void **state)
{
    expect_error(NULL, "ociVersion", NULL, "ociVersion: required field missing");
    expect_error(NULL, "ociVersion", json_string("2.0.0"), "unsupported version '2.0.0'");
    expect_error(NULL, "root", json_string("x"), "root: expected an object");
    expect_error("process", "args", json_array(), "process.args: must not be empty");
    expect_error("process", "args", json_pack("[i]", 1), "process.args[0]: expected a string");
    expect_error("process", "cwd", json_string("rel"), "process.cwd: 'rel' is not an absolute");
    expect_error("process", "env", json_pack("[s]", "NOEQUALS"),
                 "process.env[0]: 'NOEQUALS' is not KEY=value");
    expect_error("process.user", "uid", json_integer(-1),
                 "process.user.uid: expected an unsigned 32-bit integer");
    expect_error("process.capabilities", "bounding", json_pack("[s]", "CAP_BOGUS"),
                 "process.capabilities.bounding[0]: unknown capability 'CAP_BOGUS'");
    expect_error("process", "rlimits",
                 json_pack("[{s:s,s:i,s:i}]", "type", "RLIMIT_X", "soft", 1, "hard", 1),
                 "process.rlimits[0].type: unknown rlimit 'RLIMIT_X'");
    expect_error("process", "rlimits",
                 json_pack("[{s:s,s:i,s:i}]", "type", "RLIMIT_NOFILE", "soft", 10, "hard", 1),
                 "soft limit 10 above hard limit 1");
    expect_error("process", "oomScoreAdj", json_integer(5000), "process.oomScoreAdj");
    expect_error("linux", "namespaces", json_pack("[{s:s}]", "type", "bogus"),
                 "linux.namespaces[0].type: unknown namespace type 'bogus'");
    expect_error("linux", "namespaces", json_pack("[{s:s},{s:s}]", "type", "pid", "type", "pid"),
                 "namespace 'pid' given twice");
    expect_error("linux", "namespaces", json_pack("[{s:s},{s:s}]", "type", "mount", "type", "user"),
                 "a new user namespace needs uidMappings");
    expect_error(
        "linux", "devices",
        json_pack("[{s:s,s:s,s:i,s:i}]", "type", "x", "path", "/dev/x", "major", 1, "minor", 1),
        "linux.devices[0].type: unknown device type 'x'");
    expect_error("linux", "sysctl", json_pack("{s:s}", "vm.swappiness", "1"),
                 "'vm.swappiness' is not namespaced");
    expect_error("linux", "rootfsPropagation", json_string("weird"), "unknown propagation 'weird'");
    expect_error(NULL, "hooks", json_pack("{s:[{s:s}]}", "prestart", "path", "rel/hook"),
                 "hooks.prestart[0].path: 'rel/hook' is not an absolute path");
    expect_error(NULL, "mounts", json_pack("[{s:s,s:s}]", "destination", "/x", "source", "/y"),
                 "mounts[0].type: required unless the mount is a bind mount");
    expect_error(NULL, "hostname", json_integer(1), "hostname: expected a string");
}

static void test_json_limits(void **state)
{
    struct strbuf sb = STRBUF_INIT;
    for (int i = 0; i < 100000; i++) {
        strbuf_addc(&sb, '[');
    }
    json_t *j = NULL;
    struct berth_error *e = NULL;
    assert_int_equal(json_parse_buf(sb.buf, sb.len, 1u << 20, &j, &e), -EINVAL);
    assert_non_null(strstr(e->msg, "nested deeper"));
    berth_error_free(e);
    e = NULL;
    assert_int_equal(json_parse_buf(sb.buf, sb.len, 100, &j, &e), -EFBIG);
    berth_error_free(e);
    e = NULL;
    assert_int_equal(json_parse_buf("{\"a\":1,\"a\":2}", 13, 100, &j, &e), -EINVAL);
    berth_error_free(e);
    strbuf_release(&sb);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_default_spec_parses),
        cmocka_unit_test(test_rootless_spec_parses),
        cmocka_unit_test(test_errors_name_fields),
        cmocka_unit_test(test_json_limits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
