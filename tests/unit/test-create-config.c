/* Unit tests of `run`/`create` flags -> ContainerCreate body: for each
 * command line, the exact JSON document the docker CLI would send, and for
 * each bad flag, the exact message docker prints. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "basic/alloc.h"
#include "basic/error.h"
#include "basic/fileio.h"
#include "basic/strv.h"
#include "libberth/common/json-util.h"
#include "libberth/container/create-config.h"

/* Expected documents are written with ' for " to stay readable. */
static json_t *jq(const char *single_quoted)
{
    char *s = xstrdup(single_quoted);
    for (char *p = s; *p; p++) {
        if (*p == '\'') {
            *p = '"';
        }
    }
    json_error_t je;
    json_t *j = json_loads(s, 0, &je);
    if (!j) {
        fail_msg("bad expected JSON: %s: %s", je.text, s);
    }
    free(s);
    return j;
}

/* Streams as `docker run IMAGE` sets them: stdout and stderr attached. */
#define ATT                                                                                        \
    "'AttachStdin':false,'AttachStdout':true,'AttachStderr':true,'Tty':false,'OpenStdin':false,"   \
    "'StdinOnce':false"

struct ok_case {
    const char *argv[24];
    const char *json;
};

static const struct ok_case ok_cases[] = {
    {{"alpine"}, "{'Image':'alpine'," ATT ",'HostConfig':{}}"},
    /* Flags end at the image: the rest is the command, flags included. */
    {{"alpine", "-d", "--rm", "ls"},
     "{'Image':'alpine','Cmd':['-d','--rm','ls']," ATT ",'HostConfig':{}}"},
    {{"--", "alpine", "true"}, "{'Image':'alpine','Cmd':['true']," ATT ",'HostConfig':{}}"},
    {{"-it", "--rm", "alpine", "sh", "-c", "echo hi"},
     "{'Image':'alpine','Cmd':['sh','-c','echo hi'],'AttachStdin':true,'AttachStdout':true,"
     "'AttachStderr':true,'Tty':true,'OpenStdin':true,'StdinOnce':true,"
     "'HostConfig':{'AutoRemove':true}}"},
    /* -d attaches nothing; stdin is still kept open for a later attach. */
    {{"-d", "-i", "alpine"},
     "{'Image':'alpine','AttachStdin':false,'AttachStdout':false,'AttachStderr':false,"
     "'Tty':false,'OpenStdin':true,'StdinOnce':false,'HostConfig':{}}"},
    {{"-dit", "alpine"},
     "{'Image':'alpine','AttachStdin':false,'AttachStdout':false,'AttachStderr':false,"
     "'Tty':true,'OpenStdin':true,'StdinOnce':false,'HostConfig':{}}"},
    {{"-a", "stdout", "alpine"},
     "{'Image':'alpine','AttachStdin':false,'AttachStdout':true,'AttachStderr':false,"
     "'Tty':false,'OpenStdin':false,'StdinOnce':false,'HostConfig':{}}"},
    /* -a stdin without -i: attached, but not kept open nor closed on detach. */
    {{"-a", "STDIN", "-a", "stderr", "alpine"},
     "{'Image':'alpine','AttachStdin':true,'AttachStdout':false,'AttachStderr':true,"
     "'Tty':false,'OpenStdin':false,'StdinOnce':false,'HostConfig':{}}"},
    {{"--rm=false", "--init=false", "alpine"},
     "{'Image':'alpine'," ATT ",'HostConfig':{'Init':false}}"},
    /* Ports, as nat.ParsePortSpecs builds them. */
    {{"-p", "80", "-p", "8080:80", "-p8443:443", "alpine"},
     "{'Image':'alpine','ExposedPorts':{'80/tcp':{},'443/tcp':{}}," ATT ","
     "'HostConfig':{'PortBindings':{'80/tcp':[{'HostIp':'','HostPort':''},"
     "{'HostIp':'','HostPort':'8080'}],'443/tcp':[{'HostIp':'','HostPort':'8443'}]}}}"},
    {{"-p", "127.0.0.1:8080:80", "-p", "127.0.0.1::53/udp", "-p", "[::1]:9000:9000/SCTP", "alpine"},
     "{'Image':'alpine','ExposedPorts':{'80/tcp':{},'53/udp':{},'9000/sctp':{}}," ATT ","
     "'HostConfig':{'PortBindings':{'80/tcp':[{'HostIp':'127.0.0.1','HostPort':'8080'}],"
     "'53/udp':[{'HostIp':'127.0.0.1','HostPort':''}],"
     "'9000/sctp':[{'HostIp':'::1','HostPort':'9000'}]}}}"},
    {{"-p", "8000-8002:9000-9002/udp", "alpine"},
     "{'Image':'alpine','ExposedPorts':{'9000/udp':{},'9001/udp':{},'9002/udp':{}}," ATT ","
     "'HostConfig':{'PortBindings':{'9000/udp':[{'HostIp':'','HostPort':'8000'}],"
     "'9001/udp':[{'HostIp':'','HostPort':'8001'}],'9002/"
     "udp':[{'HostIp':'','HostPort':'8002'}]}}}"},
    /* One container port and a host range: the range to allocate from. */
    {{"-p", "8000-8010:80", "alpine"},
     "{'Image':'alpine','ExposedPorts':{'80/tcp':{}}," ATT ","
     "'HostConfig':{'PortBindings':{'80/tcp':[{'HostIp':'','HostPort':'8000-8010'}]}}}"},
    {{"-p", "target=80,published=8080,protocol=udp", "alpine"},
     "{'Image':'alpine','ExposedPorts':{'80/udp':{}}," ATT ","
     "'HostConfig':{'PortBindings':{'80/udp':[{'HostIp':'','HostPort':'8080'}]}}}"},
    {{"--expose", "7000-7001/udp", "--expose", "22", "-P", "alpine"},
     "{'Image':'alpine','ExposedPorts':{'7000/udp':{},'7001/udp':{},'22/tcp':{}}," ATT ","
     "'HostConfig':{'PublishAllPorts':true}}"},
    /* Volumes: sources stay strings in Binds, a lone path is anonymous. */
    {{"-v", "data:/data:ro", "-v", "/host:/c", "-v", "/srv:/srv:rw,Z,rshared", "-v", "/anon",
      "alpine"},
     "{'Image':'alpine','Volumes':{'/anon':{}}," ATT ","
     "'HostConfig':{'Binds':['data:/data:ro','/host:/c','/srv:/srv:rw,Z,rshared']}}"},
    {{"--mount", "type=bind,source=/a,target=/b,readonly", "--mount",
      "type=tmpfs,dst=/t,tmpfs-size=64m,tmpfs-mode=1770", "--mount",
      "target=/v,volume-nocopy,volume-label=k=v", "--mount",
      "type=bind,src=/x,dst=/y,ro=false,"
      "bind-propagation=rslave",
      "alpine"},
     "{'Image':'alpine'," ATT ",'HostConfig':{'Mounts':["
     "{'Type':'bind','Source':'/a','Target':'/b','ReadOnly':true},"
     "{'Type':'tmpfs','Target':'/t','TmpfsOptions':{'SizeBytes':67108864,'Mode':1016}},"
     "{'Type':'volume','Target':'/v','VolumeOptions':{'NoCopy':true,'Labels':{'k':'v'}}},"
     "{'Type':'bind','Source':'/x','Target':'/y','ReadOnly':false,"
     "'BindOptions':{'Propagation':'rslave'}}]}}"},
    {{"--volumes-from", "db", "--volumes-from", "cache:ro", "alpine"},
     "{'Image':'alpine'," ATT ",'HostConfig':{'VolumesFrom':['db','cache:ro']}}"},
    {{"--tmpfs", "/run", "--tmpfs", "/tmp:rw,size=64m", "alpine"},
     "{'Image':'alpine'," ATT ",'HostConfig':{'Tmpfs':{'/run':'','/tmp':'rw,size=64m'}}}"},
    {{"--restart", "on-failure:3", "alpine"},
     "{'Image':'alpine'," ATT ","
     "'HostConfig':{'RestartPolicy':{'Name':'on-failure','MaximumRetryCount':3}}}"},
    {{"--restart", "unless-stopped", "--rm=false", "alpine"},
     "{'Image':'alpine'," ATT ","
     "'HostConfig':{'RestartPolicy':{'Name':'unless-stopped','MaximumRetryCount':0}}}"},
    /* --rm with "no" is no conflict. */
    {{"--rm", "--restart", "no", "alpine"},
     "{'Image':'alpine'," ATT ",'HostConfig':{'AutoRemove':true,"
     "'RestartPolicy':{'Name':'no','MaximumRetryCount':0}}}"},
    {{"--ulimit", "nofile=1024:2048", "--ulimit", "nproc=100", "--ulimit", "core=-1", "alpine"},
     "{'Image':'alpine'," ATT ",'HostConfig':{'Ulimits':["
     "{'Name':'nofile','Soft':1024,'Hard':2048},{'Name':'nproc','Soft':100,'Hard':100},"
     "{'Name':'core','Soft':-1,'Hard':-1}]}}"},
    {{"--device", "/dev/fuse", "--device", "/dev/sda:/dev/xvda:r", "--device", "/dev/null:rw",
      "alpine"},
     "{'Image':'alpine'," ATT ",'HostConfig':{'Devices':["
     "{'PathOnHost':'/dev/fuse','PathInContainer':'/dev/fuse','CgroupPermissions':'rwm'},"
     "{'PathOnHost':'/dev/sda','PathInContainer':'/dev/xvda','CgroupPermissions':'r'},"
     "{'PathOnHost':'/dev/null','PathInContainer':'/dev/null','CgroupPermissions':'rw'}]}}"},
    /* Health: durations in nanoseconds. */
    {{"--health-cmd", "curl -f http://localhost/", "--health-interval", "1m30s", "--health-timeout",
      "500ms", "--health-retries", "3", "--health-start-period", "10s", "alpine"},
     "{'Image':'alpine'," ATT ",'Healthcheck':{'Test':['CMD-SHELL','curl -f http://localhost/'],"
     "'Interval':90000000000,'Timeout':500000000,'Retries':3,'StartPeriod':10000000000},"
     "'HostConfig':{}}"},
    /* Only a setting, no command: the image's test is kept (no Test). */
    {{"--health-interval", "5s", "alpine"},
     "{'Image':'alpine'," ATT ",'Healthcheck':{'Interval':5000000000},'HostConfig':{}}"},
    {{"--no-healthcheck", "alpine"},
     "{'Image':'alpine'," ATT ",'Healthcheck':{'Test':['NONE']},'HostConfig':{}}"},
    /* Resources: bytes, nano-CPUs. */
    {{"--cpus", "1.5", "-m", "512m", "--memory-swap", "-1", "--memory-reservation", "1.5g",
      "--shm-size", "100k", "-c", "512", "--cpuset-cpus", "0-1", "--pids-limit", "100",
      "--oom-kill-disable", "alpine"},
     "{'Image':'alpine'," ATT ",'HostConfig':{'NanoCpus':1500000000,'Memory':536870912,"
     "'MemorySwap':-1,'MemoryReservation':1610612736,'ShmSize':102400,'CpuShares':512,"
     "'CpusetCpus':'0-1','PidsLimit':100,'OomKillDisable':true}}"},
    {{"--memory=1g", "--memory-swap", "2GB", "--shm-size", "1024", "--cpus", "0.000000001",
      "alpine"},
     "{'Image':'alpine'," ATT ",'HostConfig':{'Memory':1073741824,'MemorySwap':2147483648,"
     "'ShmSize':1024,'NanoCpus':1}}"},
    {{"--log-driver", "json-file", "--log-opt", "max-size=10m", "--log-opt", "max-file=3",
      "alpine"},
     "{'Image':'alpine'," ATT ",'HostConfig':{'LogConfig':{'Type':'json-file',"
     "'Config':{'max-size':'10m','max-file':'3'}}}}"},
    {{"--security-opt", "no-new-privileges", "--security-opt", "label=disable", "--security-opt",
      "seccomp=unconfined", "--security-opt", "apparmor:unconfined", "alpine"},
     "{'Image':'alpine'," ATT ",'HostConfig':{'SecurityOpt':['no-new-privileges',"
     "'label=disable','seccomp=unconfined','apparmor:unconfined']}}"},
    {{"--add-host", "db:10.0.0.2", "--add-host", "gw:host-gateway", "--add-host", "v6:::1", "--dns",
      "1.1.1.1", "--dns", "2001:db8:0:0::1", "--dns-search", "example.com.", "--dns-search", ".",
      "--network", "none", "--group-add", "audio", "alpine"},
     "{'Image':'alpine'," ATT ",'HostConfig':{'ExtraHosts':['db:10.0.0.2','gw:host-gateway',"
     "'v6:::1'],'Dns':['1.1.1.1','2001:db8::1'],'DnsSearch':['example.com','.'],"
     "'NetworkMode':'none','GroupAdd':['audio']}}"},
    /* --entrypoint "" resets the image's entrypoint: [""], as docker. */
    {{"--entrypoint", "", "alpine"},
     "{'Image':'alpine','Entrypoint':['']," ATT ",'HostConfig':{}}"},
    {{"--entrypoint=/bin/sh", "alpine", "-c", "true"},
     "{'Image':'alpine','Cmd':['-c','true'],'Entrypoint':['/bin/sh']," ATT ",'HostConfig':{}}"},
    {{"-e", "A=1", "-e", "B=", "--env", "BERTH_TEST_SET", "-e", "BERTH_TEST_UNSET", "-eC=x=y",
      "alpine"},
     "{'Image':'alpine','Env':['A=1','B=','BERTH_TEST_SET=from env','C=x=y']," ATT
     ",'HostConfig':{}}"},
    {{"-l", "a=1", "--label", "b", "-l", "a=2", "alpine"},
     "{'Image':'alpine','Labels':{'a':'2','b':''}," ATT ",'HostConfig':{}}"},
    {{"-w",
      "/app",
      "-u",
      "1000:1000",
      "-h",
      "box",
      "--domainname",
      "example.org",
      "--stop-signal",
      "SIGINT",
      "--stop-timeout",
      "20",
      "--init",
      "--read-only",
      "--privileged",
      "--cap-add",
      "NET_ADMIN",
      "--cap-drop",
      "ALL",
      "alpine"},
     "{'Image':'alpine','WorkingDir':'/app','User':'1000:1000','Hostname':'box',"
     "'Domainname':'example.org','StopSignal':'SIGINT','StopTimeout':20," ATT ","
     "'HostConfig':{'Init':true,'ReadonlyRootfs':true,'Privileged':true,'CapAdd':['NET_ADMIN'],"
     "'CapDrop':['ALL']}}"},
};

static int argc_of(const char *const *argv)
{
    int n = 0;
    while (argv[n]) {
        n++;
    }
    return n;
}

static void assert_json_eq(json_t *got, const char *expected_sq, const char *what)
{
    json_t *want = jq(expected_sq);
    if (!json_equal(got, want)) {
        char *g = json_dumps(got, JSON_SORT_KEYS | JSON_COMPACT);
        char *w = json_dumps(want, JSON_SORT_KEYS | JSON_COMPACT);
        print_error("case %s\n got: %s\nwant: %s\n", what, g, w);
        free(g);
        free(w);
        json_decref(want);
        fail();
    }
    json_decref(want);
}

static void test_ok_cases(void **state)
{
    (void)state;
    setenv("BERTH_TEST_SET", "from env", 1);
    unsetenv("BERTH_TEST_UNSET");
    for (size_t i = 0; i < ARRAY_SIZE(ok_cases); i++) {
        const struct ok_case *c = &ok_cases[i];
        json_t *body = NULL;
        struct create_cli_opts o = {0};
        struct berth_error *e = NULL;
        int r = container_create_body_from_flags(argc_of(c->argv), (char **)c->argv, &body, &o, &e);
        if (r < 0) {
            print_error("case %zu (%s ...): %s\n", i, c->argv[0], e ? e->msg : "?");
            fail();
        }
        char what[32];
        snprintf(what, sizeof(what), "%zu", i);
        assert_json_eq(body, c->json, what);
        json_decref(body);
        create_cli_opts_release(&o);
    }
}

struct bad_case {
    const char *argv[8];
    const char *msg;
};

static const struct bad_case bad_cases[] = {
    {{"--memory", "1x", "alpine"},
     "invalid argument \"1x\" for \"-m, --memory\" flag: invalid size: '1x'"},
    {{"-m", "1e3", "alpine"},
     "invalid argument \"1e3\" for \"-m, --memory\" flag: invalid size: "
     "'1e3'"},
    {{"--shm-size", "-1", "alpine"},
     "invalid argument \"-1\" for \"--shm-size\" flag: invalid size: '-1'"},
    {{"--memory-swap", "lots", "alpine"},
     "invalid argument \"lots\" for \"--memory-swap\" flag: invalid size: 'lots'"},
    {{"--restart", "sometimes", "alpine"}, "invalid restart policy 'sometimes'"},
    {{"--restart", "always:3", "alpine"},
     "maximum retry count cannot be used with restart policy 'always'"},
    {{"--restart", "on-failure:x", "alpine"}, "maximum retry count must be an integer"},
    {{"--restart", "on-failure:-1", "alpine"}, "maximum retry count cannot be negative"},
    {{"--restart", "on-failure:1:2", "alpine"}, "invalid restart policy format"},
    {{"--rm", "--restart", "always", "alpine"}, "Conflicting options: --restart and --rm"},
    {{"--x", "alpine"}, "unknown flag: --x"},
    {{"-d"}, "requires at least 1 argument"},
    {{"-p", "80:abc", "alpine"}, "Invalid containerPort: abc"},
    {{"-p", "abc:80", "alpine"}, "Invalid hostPort: abc"},
    {{"-p", "70000", "alpine"}, "Invalid containerPort: 70000"},
    {{"-p", "8000-8001:80-82", "alpine"},
     "Invalid ranges specified for container and host Ports: 80-82 and 8000-8001"},
    {{"-p", "1.2.3:80:80", "alpine"}, "Invalid ip address: 1.2.3"},
    {{"-p", "80/xyz", "alpine"}, "Invalid proto: xyz"},
    {{"-p", "8080:", "alpine"}, "No port specified: 8080:<empty>"},
    {{"-p", "published=8080,target", "alpine"},
     "invalid publish opts format (should be name=value but got 'target')"},
    {{"--expose", "80:80", "alpine"}, "invalid port format for --expose: 80:80"},
    {{"--expose", "90-80", "alpine"}, "invalid range format for --expose: 90-80"},
    {{"--health-interval", "x", "alpine"},
     "invalid argument \"x\" for \"--health-interval\" flag: time: invalid duration \"x\""},
    {{"--health-timeout", "-1s", "alpine"}, "--health-timeout cannot be negative"},
    {{"--health-retries", "-1", "alpine"}, "--health-retries cannot be negative"},
    {{"--no-healthcheck", "--health-cmd", "true", "alpine"},
     "--no-healthcheck conflicts with --health-* options"},
    {{"--cpus", "abc", "alpine"},
     "invalid argument \"abc\" for \"--cpus\" flag: failed to parse abc as a rational number"},
    {{"--cpus", "0.0000000001", "alpine"},
     "invalid argument \"0.0000000001\" for \"--cpus\" flag: value is too precise"},
    {{"--cpu-shares", "x", "alpine"},
     "invalid argument \"x\" for \"-c, --cpu-shares\" flag: "
     "strconv.ParseInt: parsing \"x\": invalid syntax"},
    {{"--stop-timeout", "soon", "alpine"},
     "invalid argument \"soon\" for \"--stop-timeout\" flag: "
     "strconv.ParseInt: parsing \"soon\": invalid syntax"},
    {{"--ulimit", "nofile", "alpine"},
     "invalid argument \"nofile\" for \"--ulimit\" flag: invalid ulimit argument: nofile"},
    {{"--ulimit", "bogus=1", "alpine"},
     "invalid argument \"bogus=1\" for \"--ulimit\" flag: invalid ulimit type: bogus"},
    {{"--ulimit", "nofile=2048:1024", "alpine"},
     "invalid argument \"nofile=2048:1024\" for \"--ulimit\" flag: ulimit soft limit must be less "
     "than or equal to hard limit: 2048 > 1024"},
    {{"--ulimit", "nofile=1:2:3", "alpine"},
     "invalid argument \"nofile=1:2:3\" for \"--ulimit\" flag: too many limit value arguments - "
     "1:2:3, can only have up to two, `soft[:hard]`"},
    {{"--device", "/dev/sda:/dev/xvda:rwx", "alpine"},
     "invalid argument \"/dev/sda:/dev/xvda:rwx\" for \"--device\" flag: bad mode specified: rwx"},
    {{"--device", "/dev/sda:xvda", "alpine"},
     "invalid argument \"/dev/sda:xvda\" for \"--device\" flag: xvda is not an absolute path"},
    {{"-v", "/a:/b:bogus", "alpine"}, "invalid mode: bogus"},
    {{"-v", "/a:/b:ro,rw", "alpine"}, "invalid mode: ro,rw"},
    {{"-v", "/a:ro", "alpine"}, "invalid volume specification: '/a:ro'"},
    {{"-v", "a:/b:ro:x", "alpine"}, "invalid volume specification: 'a:/b:ro:x'"},
    {{"-v", "a$b:/x", "alpine"},
     "\"a$b\" includes invalid characters for a local volume name, only "
     "\"[a-zA-Z0-9][a-zA-Z0-9_.-]\" are allowed. If you intended to pass a host directory, use "
     "absolute path"},
    {{"-v", "relative", "alpine"},
     "invalid mount config for type \"volume\": invalid mount path: "
     "'relative' mount path must be absolute"},
    {{"-v", "/h:/", "alpine"}, "invalid specification: destination can't be '/'"},
    {{"--mount", "type=bind,target=/x", "alpine"},
     "invalid mount config for type \"bind\": field Source must not be empty"},
    {{"--mount", "source=/x", "alpine"},
     "invalid argument \"source=/x\" for \"--mount\" flag: target is required"},
    {{"--mount", "type=bind,src=/a,dst=/b,tmpfs-size=1m", "alpine"},
     "invalid argument \"type=bind,src=/a,dst=/b,tmpfs-size=1m\" for \"--mount\" flag: cannot mix "
     "'tmpfs-*' options with mount type 'bind'"},
    {{"--mount", "target=/b,foo=bar", "alpine"},
     "invalid argument \"target=/b,foo=bar\" for \"--mount\" flag: unexpected key 'foo' in "
     "'foo=bar'"},
    {{"--mount", "target=/b,ro=maybe", "alpine"},
     "invalid argument \"target=/b,ro=maybe\" for \"--mount\" flag: invalid value for ro: maybe"},
    {{"--mount", "type=weird,target=/b", "alpine"},
     "invalid mount config for type \"weird\": mount type unknown"},
    {{"--tmpfs", "run:size=1m", "alpine"},
     "invalid mount config for type \"tmpfs\": invalid mount path: 'run' mount path must be "
     "absolute"},
    {{"-e", "=x", "alpine"},
     "invalid argument \"=x\" for \"-e, --env\" flag: invalid environment variable: =x"},
    {{"--security-opt", "foo", "alpine"}, "Invalid --security-opt: \"foo\""},
    {{"--security-opt", "seccomp=/nonexistent/profile.json", "alpine"},
     "opening seccomp profile (/nonexistent/profile.json) failed: open "
     "'/nonexistent/profile.json': no such file or directory"},
    {{"--log-driver", "none", "--log-opt", "max-size=1m", "alpine"},
     "invalid logging opts for driver none"},
    {{"--add-host", "bad", "alpine"},
     "invalid argument \"bad\" for \"--add-host\" flag: bad format for add-host: \"bad\""},
    {{"--add-host", "h:999.1.1.1", "alpine"},
     "invalid argument \"h:999.1.1.1\" for \"--add-host\" "
     "flag: invalid IP address in add-host: \"999.1.1.1\""},
    {{"--dns", "resolver", "alpine"},
     "invalid argument \"resolver\" for \"--dns\" flag: resolver is not an ip address"},
    {{"--dns-search", "-bad-", "alpine"},
     "invalid argument \"-bad-\" for \"--dns-search\" flag: -bad- is not a valid domain"},
    {{"--dns-search", "123", "alpine"},
     "invalid argument \"123\" for \"--dns-search\" flag: 123 is not a valid domain"},
    {{"-a", "stdio", "alpine"},
     "invalid argument \"stdio\" for \"-a, --attach\" flag: valid streams are STDIN, STDOUT and "
     "STDERR"},
    {{"-d", "-a", "stdout", "alpine"}, "Conflicting options: -a and -d"},
    {{"--pull", "sometimes", "alpine"},
     "invalid pull option: 'sometimes': must be one of \"always\", \"missing\" or \"never\""},
    {{"-w", "app", "alpine"},
     "the working directory 'app' is invalid, it needs to be an absolute path"},
    {{"--env-file", "/nonexistent/env", "alpine"},
     "open '/nonexistent/env': no such file or directory"},
    {{"--label-file", "/nonexistent/labels", "alpine"},
     "open '/nonexistent/labels': no such file or directory"},
    {{"--rm=maybe", "alpine"}, "invalid boolean value \"maybe\" for flag --rm=maybe"},
    {{"--name"}, "flag needs an argument: --name"},
};

static void test_bad_cases(void **state)
{
    (void)state;
    for (size_t i = 0; i < ARRAY_SIZE(bad_cases); i++) {
        const struct bad_case *c = &bad_cases[i];
        json_t *body = (json_t *)0x1;
        struct create_cli_opts o = {.name = (char *)0x1};
        struct berth_error *e = NULL;
        int r = container_create_body_from_flags(argc_of(c->argv), (char **)c->argv, &body, &o, &e);
        if (r != -EINVAL && !(r == -ENOENT && strstr(c->msg, "no such file"))) {
            print_error("case %zu (%s %s): r=%d %s\n", i, c->argv[0], c->argv[1] ? c->argv[1] : "",
                        r, e ? e->msg : "(no error)");
            fail();
        }
        assert_non_null(e);
        if (!streq(e->msg, c->msg)) {
            print_error("case %zu\n got: %s\nwant: %s\n", i, e->msg, c->msg);
            fail();
        }
        /* Out-parameters are written only on success. */
        assert_ptr_equal(body, (json_t *)0x1);
        assert_ptr_equal(o.name, (char *)0x1);
        berth_error_free(e);
    }
}

static void test_cli_opts(void **state)
{
    (void)state;
    const char *argv[] = {
        "-d",          "--name", "web",   "--cidfile",         "/tmp/cid",      "--platform",
        "linux/amd64", "--pull", "never", "--sig-proxy=false", "--detach-keys", "ctrl-x",
        "nginx",       NULL};
    json_t *body = NULL;
    struct create_cli_opts o = {0};
    assert_int_equal(
        container_create_body_from_flags(argc_of(argv), (char **)argv, &body, &o, NULL), 0);
    assert_true(o.detach);
    assert_string_equal(o.name, "web");
    assert_string_equal(o.cidfile, "/tmp/cid");
    assert_string_equal(o.platform, "linux/amd64");
    assert_string_equal(o.pull, "never");
    assert_false(o.sig_proxy);
    assert_string_equal(o.detach_keys, "ctrl-x");
    /* None of them is part of the body. */
    assert_json_eq(body,
                   "{'Image':'nginx','AttachStdin':false,'AttachStdout':false,"
                   "'AttachStderr':false,'Tty':false,'OpenStdin':false,'StdinOnce':false,"
                   "'HostConfig':{}}",
                   "cli-opts");
    json_decref(body);
    create_cli_opts_release(&o);

    /* Defaults: attached, pull missing, signals proxied. */
    const char *argv2[] = {"nginx", NULL};
    assert_int_equal(container_create_body_from_flags(1, (char **)argv2, &body, &o, NULL), 0);
    assert_false(o.detach);
    assert_null(o.name);
    assert_string_equal(o.pull, "missing");
    assert_true(o.sig_proxy);
    json_decref(body);
    create_cli_opts_release(&o);
}

static char *write_temp(const char *dir, const char *name, const char *content)
{
    char *path = xasprintf("%s/%s", dir, name);
    FILE *f = fopen(path, "we");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    return path;
}

static void test_files(void **state)
{
    (void)state;
    char tmpl[] = "/tmp/berth-test-create-config-XXXXXX";
    char *dir = mkdtemp(tmpl);
    assert_non_null(dir);
    setenv("BERTH_TEST_FROM_ENV", "passed", 1);
    unsetenv("BERTH_TEST_NOT_SET");
    /* BOM, comments, blank lines, leading blanks, values untrimmed, CRLF,
     * a bare key from our environment, a bare unset key left out. */
    char *env =
        write_temp(dir, "env",
                   "\xef\xbb\xbf# comment\nA=1\n\n   B=two words \nC=x=y\r\n"
                   "BERTH_TEST_FROM_ENV\r\nBERTH_TEST_NOT_SET\n  # indented comment\nLAST=z");
    /* Label files never read our environment: a bare key is dropped. */
    char *labels = write_temp(dir, "labels", "com.example.a=1\nBERTH_TEST_FROM_ENV\nb=\n");
    char *seccomp = write_temp(dir, "seccomp.json",
                               "{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\",\n  \"syscalls\": [\n"
                               "    {\"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_ERRNO\","
                               " \"comment\": \"a b\\\" c\"}\n  ]\n}\n");
    char *badkey = write_temp(dir, "badkey", "OK=1\nBAD KEY=1\n");
    char *noname = write_temp(dir, "noname", "=value\n");
    char *badjson = write_temp(dir, "bad.json", "{\"defaultAction\": \n");
    char *badutf8 = write_temp(dir, "badutf8", "A=1\nB=\xff\xfe\n");
    /* A bare name is the whole line: a trailing blank is refused. */
    char *trailing = write_temp(dir, "trailing", "BERTH_TEST_FROM_ENV \n");

    const char *argv[] = {"--env-file",     env,    "-e",     "A=override",
                          "--label-file",   labels, "-l",     "b=flag",
                          "--security-opt", NULL,   "alpine", NULL};
    char *sec = xasprintf("seccomp=%s", seccomp);
    argv[9] = sec;
    json_t *body = NULL;
    struct berth_error *e = NULL;
    int r = container_create_body_from_flags(argc_of(argv), (char **)argv, &body, NULL, &e);
    if (r < 0) {
        fail_msg("%s", e->msg);
    }
    assert_json_eq(
        body,
        "{'Image':'alpine','Env':['A=1','B=two words ','C=x=y',"
        "'BERTH_TEST_FROM_ENV=passed','LAST=z','A=override'],"
        "'Labels':{'com.example.a':'1','b':'flag'}," ATT ","
        "'HostConfig':{'SecurityOpt':['seccomp={\\'defaultAction\\':\\'SCMP_ACT_ALLOW\\',"
        "\\'syscalls\\':[{\\'names\\':[\\'mkdir\\'],\\'action\\':\\'SCMP_ACT_ERRNO\\',"
        "\\'comment\\':\\'a b\\\\\\' c\\'}]}']}}",
        "files");
    json_decref(body);

    struct {
        const char *flag;
        const char *path;
        const char *msg;
    } bad[] = {
        {"--env-file", badkey,
         "poorly formatted environment: variable 'BAD KEY' contains whitespaces"},
        {"--label-file", noname, "poorly formatted environment: no variable name on line '=value'"},
        {"--env-file", badutf8, NULL},
        {"--env-file", trailing,
         "poorly formatted environment: variable 'BERTH_TEST_FROM_ENV ' contains whitespaces"},
        {"--security-opt", NULL, NULL},
    };
    char *badsec = xasprintf("seccomp=%s", badjson);
    bad[4].path = badsec;
    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        const char *a[] = {bad[i].flag, bad[i].path, "alpine", NULL};
        e = NULL;
        body = NULL;
        assert_int_equal(container_create_body_from_flags(3, (char **)a, &body, NULL, &e), -EINVAL);
        assert_null(body);
        if (bad[i].msg) {
            assert_string_equal(e->msg, bad[i].msg);
        } else {
            /* These name the file, as docker does. */
            const char *file = i == 4 ? badjson : badutf8;
            assert_non_null(strstr(e->msg, file));
        }
        berth_error_free(e);
    }
    char *name = xasprintf("%s/badutf8", dir);
    char *expect = xasprintf("env file %s contains invalid utf8 bytes at line 2", name);
    {
        const char *a[] = {"--env-file", badutf8, "alpine", NULL};
        e = NULL;
        assert_int_equal(container_create_body_from_flags(3, (char **)a, NULL, NULL, &e), -EINVAL);
        assert_string_equal(e->msg, expect);
        berth_error_free(e);
    }
    free(name);
    free(expect);

    char *files[] = {env, labels, seccomp, badkey, noname, badjson, badutf8, trailing};
    for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
        assert_int_equal(unlink(files[i]), 0);
        free(files[i]);
    }
    free(sec);
    free(badsec);
    assert_int_equal(rmdir(dir), 0);
}

/* A bind source of "./x" is made absolute against the cwd (docker CLI). */
static void test_relative_bind(void **state)
{
    (void)state;
    char *cwd = getcwd(NULL, 0);
    assert_non_null(cwd);
    assert_int_equal(chdir("/tmp"), 0);
    const char *argv[] = {"-v", "./data:/data", "--mount", "type=bind,src=.,dst=/w", "alpine",
                          NULL};
    json_t *body = NULL;
    assert_int_equal(container_create_body_from_flags(5, (char **)argv, &body, NULL, NULL), 0);
    assert_int_equal(chdir(cwd), 0);
    free(cwd);
    assert_json_eq(body,
                   "{'Image':'alpine'," ATT ",'HostConfig':{'Binds':['/tmp/data:/data'],"
                   "'Mounts':[{'Type':'bind','Source':'/tmp','Target':'/w'}]}}",
                   "relative");
    json_decref(body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ok_cases),      cmocka_unit_test(test_bad_cases),
        cmocka_unit_test(test_cli_opts),      cmocka_unit_test(test_files),
        cmocka_unit_test(test_relative_bind),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
