/* test_leader_config.c — `warden leader` configuration (config.c): defaults, every key of
 * leader.yaml, unknown keys and wrong values named by path, flags over the file, the required
 * options, and the listen address syntax. */
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

static char dir[] = "/tmp/wd-leader-config-XXXXXX";

static int setup(void **st)
{
    (void)st;
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **st)
{
    (void)st;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    return system(cmd) == 0 ? 0 : -1;
}

/* Write text to DIR/name; returns the path (static buffer). */
static const char *write_yaml(const char *name, const char *text)
{
    static char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

/* Load text into a fresh config; returns the code, e filled, c kept for inspection. */
static wd_code load(const char *text, wd_leader_config *c, wd_err *e)
{
    assert_int_equal(wd_leader_config_init(c, e), WD_OK);
    return wd_leader_config_load(write_yaml("leader.yaml", text), c, e);
}

/* Expect text to be refused with WD_E_USAGE and a message containing want. */
static void refused(const char *text, const char *want)
{
    wd_leader_config c;
    wd_err e;
    wd_code rc = load(text, &c, &e);
    if (rc != WD_E_USAGE || strstr(e.msg, want) == NULL)
        fail_msg("for %s: wanted usage error with '%s', got %d '%s'", text, want, rc, e.msg);
    wd_leader_config_free(&c);
}

static void test_defaults(void **st)
{
    (void)st;
    wd_leader_config c;
    wd_err e;
    assert_int_equal(wd_leader_config_init(&c, &e), WD_OK);
    assert_string_equal(c.store_url, "sqlite:/var/lib/warden/leader.db");
    assert_string_equal(c.probe_listen, "127.0.0.1:9465");
    assert_int_equal(c.nlisten, 0);
    assert_int_equal(c.workers, 0);
    assert_int_equal(c.max_conns, 20000);
    assert_int_equal(c.log_format, WD_LOG_JSON);
    assert_int_equal(c.log_level, WD_LOG_INFO);
    assert_int_equal(c.handshake_timeout_s, 10);
    assert_int_equal(c.idle_timeout_s, 120);
    assert_int_equal(c.body_timeout_s, 30);
    assert_int_equal(c.drain_timeout_s, 10);
    assert_int_equal(wd_leader_config_check(&c, &e), WD_E_USAGE);
    assert_string_equal(e.msg, "--listen is required");
    wd_leader_config_free(&c);
}

static void test_every_key(void **st)
{
    (void)st;
    wd_leader_config c;
    wd_err e;
    wd_code rc = load("listen: [\"127.0.0.1:8443\", \"[::1]:8443\"]\n"
                      "cert: /etc/warden/leader.crt\n"
                      "key: /etc/warden/leader.key\n"
                      "client_ca: /etc/warden/ca.crt\n"
                      "trust_domain: fleet.example.org\n"
                      "roster: /etc/warden/roster.json\n"
                      "pin: sha256:abcd\n"
                      "store: sqlite:/tmp/x.db\n"
                      "probe_listen: 0.0.0.0:9465\n"
                      "ui_listen: 127.0.0.1:8080\n"
                      "workers: 4\n"
                      "max_conns: 100\n"
                      "log:\n  format: text\n  level: debug\n"
                      "handshake_timeout: 3\n"
                      "idle_timeout: 2m\n"
                      "body_timeout: \"15s\"\n"
                      "drain_timeout: 1\n",
                      &c, &e);
    assert_int_equal(rc, WD_OK);
    assert_int_equal(c.nlisten, 2);
    assert_string_equal(c.listen[0], "127.0.0.1:8443");
    assert_string_equal(c.listen[1], "[::1]:8443");
    assert_string_equal(c.cert, "/etc/warden/leader.crt");
    assert_string_equal(c.key, "/etc/warden/leader.key");
    assert_string_equal(c.client_ca, "/etc/warden/ca.crt");
    assert_string_equal(c.trust_domain, "fleet.example.org");
    assert_string_equal(c.roster_path, "/etc/warden/roster.json");
    assert_string_equal(c.pin, "sha256:abcd");
    assert_string_equal(c.store_url, "sqlite:/tmp/x.db");
    assert_string_equal(c.probe_listen, "0.0.0.0:9465");
    assert_string_equal(c.ui_listen, "127.0.0.1:8080");
    assert_int_equal(c.workers, 4);
    assert_int_equal(c.max_conns, 100);
    assert_int_equal(c.log_format, WD_LOG_TEXT);
    assert_int_equal(c.log_level, WD_LOG_DEBUG);
    assert_int_equal(c.handshake_timeout_s, 3);
    assert_int_equal(c.idle_timeout_s, 120);
    assert_int_equal(c.body_timeout_s, 15);
    assert_int_equal(c.drain_timeout_s, 1);
    assert_int_equal(wd_leader_config_check(&c, &e), WD_OK);
    wd_leader_config_free(&c);
}

static void test_listen_forms(void **st)
{
    (void)st;
    wd_leader_config c;
    wd_err e;
    assert_int_equal(load("listen: 127.0.0.1:0\n", &c, &e), WD_OK);
    assert_int_equal(c.nlisten, 1);
    /* a second file's list replaces the first */
    assert_int_equal(wd_leader_config_load(write_yaml("b.yaml", "listen: [\"10.0.0.1:1\"]\n"),
                                           &c, &e), WD_OK);
    assert_int_equal(c.nlisten, 1);
    assert_string_equal(c.listen[0], "10.0.0.1:1");
    wd_leader_config_free(&c);

    /* 16 addresses at most */
    char text[1024] = "listen:\n";
    for (int i = 0; i < WD_LEADER_MAX_LISTEN; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "  - 127.0.0.1:%d\n", 1000 + i);
    assert_int_equal(load(text, &c, &e), WD_OK);
    assert_int_equal(c.nlisten, WD_LEADER_MAX_LISTEN);
    wd_leader_config_free(&c);
    snprintf(text + strlen(text), sizeof text - strlen(text), "  - 127.0.0.1:2000\n");
    refused(text, "listen: at most 16 addresses");

    refused("listen: []\n", "listen: must be an address or a non-empty list");
    refused("listen: 5\n", "listen: must be an address");
    refused("listen: [5]\n", "listen[0]: must be a string");
    refused("listen: localhost:80\n", "listen: 'localhost:80' is not ADDR:PORT");
}

static void test_unknown_keys(void **st)
{
    (void)st;
    refused("listn: 127.0.0.1:1\n", "leader.yaml: listn: unknown key");
    refused("log:\n  colour: red\n", "leader.yaml: log.colour: unknown key");
    refused("timeouts: 1\n", "timeouts: unknown key");
}

static void test_bad_values(void **st)
{
    (void)st;
    refused("workers: x\n", "workers: 'x' is not an integer 0..256");
    refused("workers: -1\n", "workers: '-1' is not an integer");
    refused("workers: 257\n", "workers: '257'");
    refused("max_conns: 0\n", "max_conns: '0' is not an integer 1..1000000");
    refused("max_conns: [1]\n", "max_conns: must be a scalar");
    refused("log: json\n", "log: must be a mapping");
    refused("log:\n  format: xml\n", "log.format: 'xml' is not json or text");
    refused("log:\n  level: loud\n", "log.level: 'loud' is not debug, info, warn or error");
    refused("log:\n  level: 1\n", "log.level: must be a string");
    refused("handshake_timeout: 0\n", "handshake_timeout: '0' is not 1..3600 seconds");
    refused("idle_timeout: 3601\n", "idle_timeout: '3601'");
    refused("body_timeout: 2h\n", "body_timeout: '2h'");
    refused("drain_timeout: soon\n", "drain_timeout: 'soon'");
    refused("trust_domain: Fleet.Example\n", "trust_domain: 'Fleet.Example' is not a trust domain");
    refused("cert: \"\"\n", "cert: must not be empty");
    refused("cert: [a]\n", "cert: must be a scalar");
    refused("- a\n- b\n", "the top level must be a mapping");
    refused("cert: a\ncert: b\n", "leader.yaml");       /* duplicate key */
    refused("cert: [\n", "leader.yaml");                 /* YAML syntax */
}

static void test_limits_of_values(void **st)
{
    (void)st;
    wd_leader_config c;
    wd_err e;
    assert_int_equal(load("workers: 256\nmax_conns: 1000000\nhandshake_timeout: 3600\n"
                          "idle_timeout: 1\nbody_timeout: 60m\n", &c, &e), WD_OK);
    assert_int_equal(c.workers, 256);
    assert_int_equal(c.max_conns, 1000000);
    assert_int_equal(c.handshake_timeout_s, 3600);
    assert_int_equal(c.idle_timeout_s, 1);
    assert_int_equal(c.body_timeout_s, 3600);
    wd_leader_config_free(&c);
    refused("max_conns: 1000001\n", "max_conns");
    refused("body_timeout: 60m1s\n", "body_timeout");
}

static void test_file_errors(void **st)
{
    (void)st;
    wd_leader_config c;
    wd_err e;
    assert_int_equal(wd_leader_config_init(&c, &e), WD_OK);
    char missing[300];
    snprintf(missing, sizeof missing, "%s/missing.yaml", dir);
    assert_int_equal(wd_leader_config_load(missing, &c, &e), WD_E_IO);
    wd_leader_config_free(&c);

    /* at the size limit it is read; one byte more is refused */
    char *big = malloc(WD_LEADER_MAX_CONFIG + 2);
    assert_non_null(big);
    memset(big, ' ', WD_LEADER_MAX_CONFIG);
    memcpy(big, "workers: 3", 10);
    big[WD_LEADER_MAX_CONFIG - 1] = '\n';
    big[WD_LEADER_MAX_CONFIG] = '\0';
    assert_int_equal(load(big, &c, &e), WD_OK);
    assert_int_equal(c.workers, 3);
    wd_leader_config_free(&c);
    big[WD_LEADER_MAX_CONFIG] = '\n';
    big[WD_LEADER_MAX_CONFIG + 1] = '\0';
    refused(big, "larger than 65536 bytes");
    free(big);

    /* an empty file sets nothing */
    assert_int_equal(load("", &c, &e), WD_OK);
    assert_int_equal(c.max_conns, 20000);
    wd_leader_config_free(&c);
}

static void test_flags_win(void **st)
{
    (void)st;
    wd_leader_config c;
    wd_err e;
    assert_int_equal(load("cert: file.crt\nworkers: 2\nlog:\n  format: text\n", &c, &e), WD_OK);
    /* what cmd_leader does after the file: each flag through the same setter */
    assert_int_equal(wd_leader_config_set(&c, "cert", "flag.crt", &e), WD_OK);
    assert_int_equal(wd_leader_config_set(&c, "workers", "8", &e), WD_OK);
    assert_int_equal(wd_leader_config_set(&c, "log.format", "json", &e), WD_OK);
    assert_string_equal(c.cert, "flag.crt");
    assert_int_equal(c.workers, 8);
    assert_int_equal(c.log_format, WD_LOG_JSON);
    /* a refused value changes nothing */
    assert_int_equal(wd_leader_config_set(&c, "workers", "many", &e), WD_E_USAGE);
    assert_int_equal(c.workers, 8);
    assert_int_equal(wd_leader_config_set(&c, "nope", "1", &e), WD_E_USAGE);
    assert_string_equal(e.msg, "nope: unknown key");
    wd_leader_config_free(&c);
}

static void test_required(void **st)
{
    (void)st;
    static const char *const order[][2] = {
        {"listen", "127.0.0.1:1"}, {"cert", "c"},          {"key", "k"},
        {"client_ca", "ca"},       {"trust_domain", "td"}, {"roster", "r"},
        {"pin", "sha256:00"},
    };
    static const char *const flag[] = {"--listen", "--cert", "--key", "--client-ca",
                                       "--trust-domain", "--roster", "--pin"};
    wd_leader_config c;
    wd_err e;
    assert_int_equal(wd_leader_config_init(&c, &e), WD_OK);
    for (size_t i = 0; i < 7; i++) {
        assert_int_equal(wd_leader_config_check(&c, &e), WD_E_USAGE);
        char want[64];
        snprintf(want, sizeof want, "%s is required", flag[i]);
        assert_string_equal(e.msg, want);
        assert_int_equal(wd_leader_config_set(&c, order[i][0], order[i][1], &e), WD_OK);
    }
    assert_int_equal(wd_leader_config_check(&c, &e), WD_OK);
    wd_leader_config_free(&c);
}

/* The fleet page: a loopback address needs no token file; any other address does; a token
 * file needs the page's address; the key is read from the file. */
static void test_ui_token_rule(void **st)
{
    (void)st;
    static const char *const base[][2] = {
        {"listen", "127.0.0.1:1"}, {"cert", "c"},          {"key", "k"},
        {"client_ca", "ca"},       {"trust_domain", "td"}, {"roster", "r"},
        {"pin", "sha256:00"},
    };
    static const struct {
        const char *ui, *token;
        wd_code want;
        const char *msg;
    } cases[] = {
        {"127.0.0.1:0", NULL, WD_OK, NULL},
        {"127.255.0.9:8080", NULL, WD_OK, NULL},
        {"[::1]:8080", NULL, WD_OK, NULL},
        {"0.0.0.0:8080", NULL, WD_E_USAGE,
         "--ui-listen 0.0.0.0:8080 is not a loopback address: --ui-token-file is required"},
        {"10.0.0.1:8080", NULL, WD_E_USAGE,
         "--ui-listen 10.0.0.1:8080 is not a loopback address: --ui-token-file is required"},
        {"128.0.0.1:8080", NULL, WD_E_USAGE,
         "--ui-listen 128.0.0.1:8080 is not a loopback address: --ui-token-file is required"},
        {"[::]:8080", NULL, WD_E_USAGE,
         "--ui-listen [::]:8080 is not a loopback address: --ui-token-file is required"},
        {"[::2]:8080", NULL, WD_E_USAGE,
         "--ui-listen [::2]:8080 is not a loopback address: --ui-token-file is required"},
        {"0.0.0.0:8080", "/etc/warden/ui.token", WD_OK, NULL},
        {"[::]:8080", "/etc/warden/ui.token", WD_OK, NULL},
        {"127.0.0.1:8080", "/etc/warden/ui.token", WD_OK, NULL},
        {NULL, "/etc/warden/ui.token", WD_E_USAGE, "--ui-token-file needs --ui-listen"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        wd_leader_config c;
        wd_err e;
        assert_int_equal(wd_leader_config_init(&c, &e), WD_OK);
        for (size_t i = 0; i < 7; i++)
            assert_int_equal(wd_leader_config_set(&c, base[i][0], base[i][1], &e), WD_OK);
        if (cases[k].ui != NULL)
            assert_int_equal(wd_leader_config_set(&c, "ui_listen", cases[k].ui, &e), WD_OK);
        if (cases[k].token != NULL)
            assert_int_equal(wd_leader_config_set(&c, "ui_token_file", cases[k].token, &e),
                             WD_OK);
        wd_code rc = wd_leader_config_check(&c, &e);
        if (rc != cases[k].want || (cases[k].msg != NULL && strcmp(e.msg, cases[k].msg) != 0))
            fail_msg("case %zu (%s, %s): got %d '%s'", k, cases[k].ui ? cases[k].ui : "-",
                     cases[k].token ? cases[k].token : "-", rc, rc ? e.msg : "");
        wd_leader_config_free(&c);
    }
    /* from the file */
    wd_leader_config c;
    wd_err e;
    assert_int_equal(load("ui_listen: 0.0.0.0:9466\nui_token_file: /etc/warden/ui.token\n", &c,
                          &e),
                     WD_OK);
    assert_string_equal(c.ui_token_file, "/etc/warden/ui.token");
    wd_leader_config_free(&c);
}

static void test_parse_addr(void **st)
{
    (void)st;
    struct sockaddr_storage ss;
    int len;
    assert_true(wd_leader_parse_addr("127.0.0.1:0", &ss, &len));
    assert_int_equal(ss.ss_family, AF_INET);
    assert_true(wd_leader_parse_addr("0.0.0.0:65535", &ss, &len));
    assert_true(wd_leader_parse_addr("[::1]:8443", &ss, &len));
    assert_int_equal(ss.ss_family, AF_INET6);
    assert_true(wd_leader_parse_addr("[::]:1", &ss, &len));
    const char *bad[] = {"127.0.0.1", "127.0.0.1:", ":80", "localhost:80", "1.2.3.4:65536",
                         "1.2.3.4:-1", "1.2.3.4:8x", "::1:80", "[::1]", "[::1:80",
                         "1.2.3.4:123456", "256.1.1.1:1", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (wd_leader_parse_addr(bad[i], &ss, &len))
            fail_msg("accepted '%s'", bad[i]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_every_key),
        cmocka_unit_test(test_listen_forms),
        cmocka_unit_test(test_unknown_keys),
        cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_limits_of_values),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_flags_win),
        cmocka_unit_test(test_required),
        cmocka_unit_test(test_parse_addr),
        cmocka_unit_test(test_ui_token_rule),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
