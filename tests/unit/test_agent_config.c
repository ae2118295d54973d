/* test_agent_config.c — the agent's agent.yaml (src/agent/config.c): defaults, every block,
 * unknown keys named by their path, wrong values, the fingerprint required whenever the
 * conductor is enabled (whatever honor_remote_kill_switch says), leader_url forms, the client
 * certificate's instance, the restart-only comparison of a reload and the start-up line. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

static char dir[] = "/tmp/wd-agent-config-XXXXXX";
#define FP "sha256:" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static int setup(void **st)
{
    (void)st;
    if (mkdtemp(dir) == NULL)
        return -1;
    const char *w = getenv("WARDEN");
    if (w == NULL)
        return -1;
    char cmd[1024];
    snprintf(cmd, sizeof cmd,
             "'%s' pki init --trust-domain fleet.test --dir %s/pki >/dev/null && "
             "'%s' pki issue --dir %s/pki --follower acme/web/prod/web-7 --out %s/web7 "
             ">/dev/null && "
             "'%s' pki issue --dir %s/pki --admin acme/alice --out %s/alice >/dev/null",
             w, dir, w, dir, dir, w, dir, dir);
    return system(cmd) == 0 ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *write_yaml(const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/agent.yaml", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* A complete, valid file with one line replaced or added through fmt. */
static char *conf(const char *extra)
{
    static char buf[4096];
    snprintf(buf, sizeof buf,
             "instance_id: web-7\n"
             "labels: {team: payments}\n"
             "state_dir: %s/state\n"
             "conductor:\n"
             "  enabled: true\n"
             "  leader_url: https://leader.example:8443\n"
             "  trust_roster_root_fingerprint: " FP "\n"
             "  honor_remote_kill_switch: true\n"
             "  poll_interval: 30s\n"
             "  long_poll: true\n"
             "  tls: {cert: %s/web7.crt, key: %s/web7.key, ca: %s/pki/ca.crt}\n"
             "  stale_policy: {grace: 1h, then: deny-all}\n"
             "%s",
             dir, dir, dir, dir, extra);
    return buf;
}

static void refused(const char *text, const char *want)
{
    wd_agent_settings c;
    wd_err e;
    wd_code rc = wd_agent_settings_load(write_yaml(text), &c, &e);
    if (rc != WD_E_USAGE || strstr(e.msg, want) == NULL)
        fail_msg("wanted a usage error with '%s', got %d '%s'\nfor:\n%s", want, rc, e.msg, text);
    /* nothing is left allocated on an error */
    assert_null(c.instance_id);
    assert_null(c.labels);
}

static void t01_loads_every_block(void **st)
{
    (void)st;
    wd_agent_settings c;
    wd_err e;
    const char *extra =
        "policy: /etc/warden/local-policy.yaml\n"
        "audit: {spool_max: 64MiB, batch_max_records: 1000, flush_interval: 5s}\n"
        "flight_recorder: {dir: /var/lib/warden/recorder, signing_key: /etc/warden/recorder.key,\n"
        "                  checkpoint_every: 1000, checkpoint_interval: 60s, record_args: false}\n"
        "logging: {level: info, format: json}\n"
        "metrics: {listen: 127.0.0.1:9464}\n";
    assert_int_equal(wd_agent_settings_load(write_yaml(conf(extra)), &c, &e), WD_OK);
    assert_string_equal(c.instance_id, "web-7");
    assert_string_equal(json_string_value(json_object_get(c.labels, "team")), "payments");
    assert_true(c.conductor.enabled);
    assert_string_equal(c.conductor.leader_url, "https://leader.example:8443");
    assert_string_equal(c.conductor.fingerprint, FP);
    assert_int_equal(c.conductor.poll_interval_s, 30);
    assert_int_equal(c.conductor.grace_s, 3600);
    assert_int_equal(c.conductor.then, WD_STALE_DENY_ALL);
    assert_int_equal(c.audit.spool_max, 64u << 20);
    assert_int_equal(c.audit.batch_max_records, 1000);
    assert_true(c.recorder.present);
    assert_string_equal(c.recorder.signing_key, "/etc/warden/recorder.key");
    assert_int_equal(c.recorder.checkpoint_interval_s, 60);
    assert_string_equal(c.metrics_listen, "127.0.0.1:9464");
    assert_string_equal(c.policy, "/etc/warden/local-policy.yaml");
    wd_agent_settings_free(&c);
}

static void t02_defaults(void **st)
{
    (void)st;
    wd_agent_settings c;
    wd_err e;
    assert_int_equal(wd_agent_settings_load(write_yaml("instance_id: web-7\n"), &c, &e), WD_OK);
    assert_false(c.conductor.enabled);
    assert_string_equal(c.state_dir, "/var/lib/warden");
    assert_int_equal(c.conductor.poll_interval_s, 30);
    assert_true(c.conductor.long_poll);
    assert_true(c.conductor.honor_kill);
    assert_int_equal(c.log_format, WD_AGENT_LOG_JSON);
    assert_int_equal(c.log_level, WD_AGENT_LOG_INFO);
    assert_null(c.metrics_listen);
    wd_agent_settings_free(&c);
    /* fingerprint upper-case input is normalised */
    char text[4096];
    snprintf(text, sizeof text, "%s", conf(""));
    char *p = strstr(text, FP);
    for (char *q = p + 7; q < p + 71; q++)
        if (*q >= 'a' && *q <= 'f')
            *q = (char)(*q - 32);
    assert_int_equal(wd_agent_settings_load(write_yaml(text), &c, &e), WD_OK);
    assert_string_equal(c.conductor.fingerprint, FP);
    wd_agent_settings_free(&c);
}

static void t03_unknown_keys_named_by_path(void **st)
{
    (void)st;
    refused("instance_id: web-7\nlables: {}\n", "lables: unknown key");
    refused(conf("audit: {spool_maxx: 1}\n"), "audit.spool_maxx: unknown key");
    refused(conf("logging: {colour: red}\n"), "logging.colour: unknown key");
    refused(conf("flight_recorder: {sign_key: x}\n"), "flight_recorder.sign_key: unknown key");
    refused(conf("flight_recorder: {signing_key: /k}\n"), "flight_recorder.dir: required");
    char text[4096];
    snprintf(text, sizeof text, "%s", conf(""));
    char *p = strstr(text, "ca: ");
    memcpy(p, "cx: ", 4);
    refused(text, "conductor.tls.cx: unknown key");
    snprintf(text, sizeof text, "%s", conf(""));
    p = strstr(text, "then:");
    memcpy(p, "than:", 5);
    refused(text, "conductor.stale_policy.than: unknown key");
}

static void t04_fingerprint_required_whenever_enabled(void **st)
{
    (void)st;
    char text[4096];
    snprintf(text, sizeof text, "%s", conf(""));
    char *p = strstr(text, "  trust_roster_root_fingerprint");
    char *nl = strchr(p, '\n');
    memmove(p, nl + 1, strlen(nl + 1) + 1);
    refused(text, "conductor.trust_roster_root_fingerprint: required");
    /* honor=false does not make it optional */
    p = strstr(text, "honor_remote_kill_switch: true");
    memcpy(p, "honor_remote_kill_switch: fals", 30);
    memmove(p + 31, p + 30, strlen(p + 30) + 1);
    p[30] = 'e';
    refused(text, "conductor.trust_roster_root_fingerprint: required");
    /* unparseable */
    snprintf(text, sizeof text, "%s", conf(""));
    p = strstr(text, FP);
    p[10] = 'z';
    refused(text, "conductor.trust_roster_root_fingerprint: must be sha256:");
    /* disabled: not needed */
    wd_agent_settings c;
    wd_err e;
    assert_int_equal(wd_agent_settings_load(
                         write_yaml("instance_id: web-7\nconductor: {enabled: false}\n"), &c, &e),
                     WD_OK);
    assert_false(c.conductor.enabled);
    wd_agent_settings_free(&c);
}

static void t05_leader_url_forms(void **st)
{
    (void)st;
    static const char *const bad[] = {
        "http://leader.example:8443", "https://user:pw@leader.example", "https://leader.example/?q=1",
        "https://leader.example/#frag", "https://leader.example/api", "ftp://leader.example",
        "leader.example:8443", "https://",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char text[4096];
        snprintf(text, sizeof text, "%s", conf(""));
        char *p = strstr(text, "https://leader.example:8443");
        char rest[4096];
        snprintf(rest, sizeof rest, "%s", p + strlen("https://leader.example:8443"));
        snprintf(p, sizeof text - (size_t)(p - text), "\"%s\"%s", bad[i], rest);
        refused(text, "conductor.leader_url: ");
    }
}

static void t06_wrong_values(void **st)
{
    (void)st;
    refused("instance_id: 'web 7'\n", "instance_id: must be an id");
    refused("labels: {team: payments}\n", "instance_id: required");
    refused(conf("metrics: {listen: localhost:9464}\n"), "metrics.listen: must be ADDR:PORT");
    refused(conf("metrics: {listen: 127.0.0.1}\n"), "metrics.listen: must be ADDR:PORT");
    refused(conf("logging: {format: xml}\n"), "logging.format: must be json or text");
    refused(conf("audit: {spool_max: lots}\n"), "audit.spool_max: must be a size");
    refused(conf("audit: {batch_max_records: 10001}\n"), "audit.batch_max_records: must be");
    char text[4096];
    snprintf(text, sizeof text, "%s", conf(""));
    char *p = strstr(text, "poll_interval: 30s");
    memcpy(p, "poll_interval: 301", 18);
    refused(text, "conductor.poll_interval: must be a duration from 1s to 300s");
    memcpy(p, "poll_interval: 300", 18);
    wd_agent_settings c;
    wd_err e;
    assert_int_equal(wd_agent_settings_load(write_yaml(text), &c, &e), WD_OK);
    assert_int_equal(c.conductor.poll_interval_s, 300);
    wd_agent_settings_free(&c);
    refused("instance_id: web-7\nlabels: {'bad key': x}\n", "a label key must be an id");
    refused("instance_id: web-7\nlabels: [a]\n", "labels: must be a mapping");
    refused("instance_id: web-7\ninstance_id: web-8\n", "duplicate");
    refused("- a\n", "the top level must be a mapping");
}

static void t07_certificate_instance(void **st)
{
    (void)st;
    wd_agent_settings c;
    wd_err e;
    wd_agent_identity id;
    assert_int_equal(wd_agent_settings_load(write_yaml(conf("")), &c, &e), WD_OK);
    assert_int_equal(wd_agent_settings_check_cert(&c, &id, &e), WD_OK);
    assert_string_equal(id.org, "acme");
    assert_string_equal(id.fleet, "web");
    assert_string_equal(id.env, "prod");
    assert_string_equal(id.instance, "web-7");
    assert_string_equal(id.trust_domain, "fleet.test");
    free(c.instance_id);
    c.instance_id = strdup("web-8");
    assert_int_equal(wd_agent_settings_check_cert(&c, &id, &e), WD_E_USAGE);
    assert_non_null(strstr(e.msg, "'web-8' is not the instance of the client certificate (web-7)"));
    /* an administrator's certificate names no instance */
    char path[256];
    snprintf(path, sizeof path, "%s/alice.crt", dir);
    free(c.conductor.cert);
    c.conductor.cert = strdup(path);
    assert_int_equal(wd_agent_settings_check_cert(&c, &id, &e), WD_E_USAGE);
    assert_non_null(strstr(e.msg, "does not name a follower"));
    snprintf(path, sizeof path, "%s/missing.crt", dir);
    free(c.conductor.cert);
    c.conductor.cert = strdup(path);
    assert_int_equal(wd_agent_settings_check_cert(&c, &id, &e), WD_E_IO);
    wd_agent_settings_free(&c);
}

static void t08_restart_only(void **st)
{
    (void)st;
    wd_agent_settings a, b;
    wd_err e;
    const char *rec = "flight_recorder: {dir: /r, signing_key: /k1, checkpoint_every: 10}\n";
    assert_int_equal(wd_agent_settings_load(write_yaml(conf(rec)), &a, &e), WD_OK);
    assert_int_equal(wd_agent_settings_load(write_yaml(conf(rec)), &b, &e), WD_OK);
    char why[512];
    assert_false(wd_agent_settings_restart_only(&a, &b, why, sizeof why));
    wd_agent_settings_free(&b);
    assert_int_equal(wd_agent_settings_load(
        write_yaml(conf("flight_recorder: {dir: /r, signing_key: /k2, checkpoint_every: 10}\n")),
        &b, &e), WD_OK);
    assert_true(wd_agent_settings_restart_only(&a, &b, why, sizeof why));
    assert_string_equal(why, "flight_recorder.signing_key (the recorder's signing key)");
    wd_agent_settings_free(&b);
    assert_int_equal(wd_agent_settings_load(
        write_yaml(conf("flight_recorder: {dir: /r, signing_key: /k1, checkpoint_every: 11}\n")),
        &b, &e), WD_OK);
    assert_true(wd_agent_settings_restart_only(&a, &b, why, sizeof why));
    assert_string_equal(why, "flight_recorder (other recorder fields)");
    /* keeping them: b gets a's values back, the rest of b stays */
    assert_int_equal(wd_agent_settings_keep_restart_only(&b, &a, &e), WD_OK);
    assert_false(wd_agent_settings_restart_only(&a, &b, why, sizeof why));
    wd_agent_settings_free(&b);
    char text[4096];
    snprintf(text, sizeof text, "%s", conf(rec));
    char *p = strstr(text, "instance_id: web-7");
    p[17] = '8';
    p = strstr(text, "/state");
    memcpy(p, "/stat2", 6);
    assert_int_equal(wd_agent_settings_load(write_yaml(text), &b, &e), WD_OK);
    assert_true(wd_agent_settings_restart_only(&a, &b, why, sizeof why));
    assert_string_equal(why, "instance_id, state_dir");
    assert_false(wd_agent_settings_conn_changed(&a, &b));
    wd_agent_settings_free(&b);
    wd_agent_settings_free(&a);
}

static void t09_summary_line(void **st)
{
    (void)st;
    wd_agent_settings c;
    wd_err e;
    char line[512];
    assert_int_equal(wd_agent_settings_load(write_yaml(conf("")), &c, &e), WD_OK);
    wd_agent_settings_summary(&c, line, sizeof line);
    assert_string_equal(line, "warden agent: instance web-7, leader https://leader.example:8443, "
                              "policy bundle polling enabled, remote kill honored, long poll 30s");
    c.conductor.honor_kill = false;
    c.conductor.long_poll = false;
    wd_agent_settings_summary(&c, line, sizeof line);
    assert_string_equal(line, "warden agent: instance web-7, leader https://leader.example:8443, "
                              "policy bundle polling enabled, remote kill verified and reported, "
                              "not honored, long poll off, poll every 30s");
    wd_agent_settings_free(&c);
}

static void t10_size_limit(void **st)
{
    (void)st;
    /* the file at its limit loads; one byte more is refused */
    char *text = malloc(WD_AGENT_MAX_CONFIG + 2);
    assert_non_null(text);
    const char *head = "instance_id: web-7\n#";
    size_t hl = strlen(head);
    memcpy(text, head, hl);
    memset(text + hl, 'x', WD_AGENT_MAX_CONFIG - hl - 1);
    text[WD_AGENT_MAX_CONFIG - 1] = '\n';
    text[WD_AGENT_MAX_CONFIG] = '\0';
    wd_agent_settings c;
    wd_err e;
    assert_int_equal(wd_agent_settings_load(write_yaml(text), &c, &e), WD_OK);
    wd_agent_settings_free(&c);
    text[WD_AGENT_MAX_CONFIG - 1] = 'x';
    text[WD_AGENT_MAX_CONFIG] = '\n';
    text[WD_AGENT_MAX_CONFIG + 1] = '\0';
    refused(text, "larger than 65536 bytes");
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_loads_every_block),
        cmocka_unit_test(t02_defaults),
        cmocka_unit_test(t03_unknown_keys_named_by_path),
        cmocka_unit_test(t04_fingerprint_required_whenever_enabled),
        cmocka_unit_test(t05_leader_url_forms),
        cmocka_unit_test(t06_wrong_values),
        cmocka_unit_test(t07_certificate_instance),
        cmocka_unit_test(t08_restart_only),
        cmocka_unit_test(t09_summary_line),
        cmocka_unit_test(t10_size_limit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
