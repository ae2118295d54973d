/* test_fleetclient.c — focus: the leader client (src/client/fleetclient.c): URL rules, the client
 * key file rule, argument checks, and, against the scripted fake leader (Node, mTLS, on
 * 127.0.0.1), connection reuse, sent and captured headers, the response cap at the limit and
 * one past it, timeouts, cancelling a held request and exact request bodies. argv[1] is the node binary. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fleetclient.h"
#include "base/base.h"

static const char *node_bin;
static char dir[64];
static char url[64];
static pid_t fake_pid = -1;
static int fake_stdin = -1;

/* dir/name in one of four rotating buffers: use at most four results at once. */
static char *path_in(const char *name)
{
    static char buf[4][256];
    static int i;
    i = (i + 1) % 4;
    snprintf(buf[i], sizeof buf[i], "%s/%s", dir, name);
    return buf[i];
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

static void write_text(const char *name, const char *text)
{
    FILE *f = fopen(path_in(name), "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The fake answers every request with this; the record is emptied. */
static void script(const char *json)
{
    write_text("script.json", json);
    write_text("record.jsonl", "");
}

static char *records(size_t *lines)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    assert_int_equal(wd_read_file(path_in("record.jsonl"), 1u << 24, &buf, &len, NULL), WD_OK);
    *lines = 0;
    for (size_t i = 0; i < len; i++)
        *lines += buf[i] == '\n';
    return (char *)buf;
}

static int start_fake(void)
{
    const char *src = getenv("WD_SRCDIR");
    if (src == NULL)
        return -1;
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0)
        return -1;
    char fake[512];
    snprintf(fake, sizeof fake, "%s/tests/interop/fake_leader.mjs", src);
    char a[5][256];
    static const char *const names[5] = {"leader.crt", "leader.key", "ca.crt", "script.json",
                                         "record.jsonl"};
    for (int i = 0; i < 5; i++)
        snprintf(a[i], sizeof a[i], "%s/%s", dir, names[i]);
    fake_pid = fork();
    if (fake_pid < 0)
        return -1;
    if (fake_pid == 0) {
        dup2(in[0], 0);
        dup2(out[1], 1);
        close(in[1]);
        close(out[0]);
        execl(node_bin, node_bin, fake, "--cert", a[0], "--key", a[1], "--client-ca", a[2],
              "--script", a[3], "--record", a[4], "--watch-stdin", "1", (char *)NULL);
        _exit(127);
    }
    close(in[0]);
    close(out[1]);
    fake_stdin = in[1];
    char line[128] = {0};
    size_t n = 0;
    while (n < sizeof line - 1) {
        ssize_t r = read(out[0], line + n, 1);
        if (r <= 0)
            break;
        if (line[n] == '\n')
            break;
        n++;
    }
    close(out[0]);
    int port = 0;
    if (sscanf(line, "PORT %d", &port) != 1)
        return -1;
    snprintf(url, sizeof url, "https://127.0.0.1:%d", port);
    return 0;
}

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/wd-fleet-XXXXXX");
    if (mkdtemp(dir) == NULL)
        return -1;
    const char *ec = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";
    if (sh("cd '%s' && exec >openssl.log 2>&1 && "
           "openssl req -x509 %s -keyout ca.key -out ca.crt -subj /CN=ca -days 2 "
           "-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign && "
           "printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' >leader.ext && "
           "printf 'subjectAltName=URI:spiffe://td.test/org/acme/admin/alice\\n' >admin.ext && "
           "for n in leader admin; do openssl req -new %s -keyout $n.key -out $n.csr -subj /CN=$n "
           "&& openssl x509 -req -in $n.csr -CA ca.crt -CAkey ca.key -CAcreateserial "
           "-days 2 -out $n.crt -extfile $n.ext && chmod 600 $n.key || exit 1; done",
           dir, ec, ec) != 0)
        return -1;
    script("{\"status\":200,\"body\":{}}");
    return start_fake();
}

static int teardown(void **state)
{
    (void)state;
    if (fake_stdin >= 0)
        close(fake_stdin);
    if (fake_pid > 0) {
        kill(fake_pid, SIGTERM);
        waitpid(fake_pid, NULL, 0);
    }
    if (getenv("WD_KEEP_TMP")) return 0;
    return sh("rm -rf '%s'", dir) == 0 ? 0 : -1;
}

static wd_fleet_opts opts_for(const char *key)
{
    wd_fleet_opts o = {
        .leader_url = url,
        .cert_path = path_in("admin.crt"),
        .key_path = key ? key : path_in("admin.key"),
        .ca_path = path_in("ca.crt"),
    };
    return o;
}

static wd_fleet_client *open_client(void)
{
    wd_fleet_opts o = opts_for(NULL);
    wd_fleet_client *c = NULL;
    wd_err e;
    wd_err_clear(&e);
    assert_int_equal(wd_fleet_open(&o, &c, &e), WD_OK);
    return c;
}

/* ---- URLs ---- */

static void t01_url_accepts_host_and_port(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"https://leader.acme.example", "https://leader.acme.example"},
        {"https://leader.acme.example:8443/", "https://leader.acme.example:8443"},
        {"https://127.0.0.1:1", "https://127.0.0.1:1"},
        {"https://[::1]:8443", "https://[::1]:8443"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *base = NULL;
        wd_err e;
        wd_err_clear(&e);
        assert_int_equal(wd_fleet_parse_url(cases[i][0], &base, &e), WD_OK);
        assert_string_equal(base, cases[i][1]);
        free(base);
    }
}

static void t02_url_rejects_everything_else(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "http://leader:8443", "ftp://leader", "https://alice@leader", "https://a:b@leader",
        "https://leader/?x=1", "https://leader?", "https://leader#", "https://leader#f",
        "https://leader/api", "https://leader:99999", "https://", "leader:8443", "",
        "https://leader:8443/ x", "https://[fe80::1%25eth0]:8443", "https://leader;o=1@x",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *base = (char *)1;
        wd_err e;
        wd_err_clear(&e);
        assert_int_equal(wd_fleet_parse_url(bad[i], &base, &e), WD_E_USAGE);
        assert_null(base);
        assert_true(e.msg[0] != '\0');
    }
}

static void t03_url_length_at_and_past_the_limit(void **state)
{
    (void)state;
    char u[WD_FLEET_MAX_URL + 2];
    /* https:// + labels of "a" separated by dots, up to the exact length. */
    size_t n = strlen("https://");
    memcpy(u, "https://", n);
    while (n < WD_FLEET_MAX_URL) {
        u[n] = (n % 2) ? 'a' : '.';
        if (n == strlen("https://"))
            u[n] = 'a';
        n++;
    }
    u[n - 1] = 'a';
    u[n] = '\0';
    char *base = NULL;
    assert_int_equal(strlen(u), WD_FLEET_MAX_URL);
    assert_int_equal(wd_fleet_parse_url(u, &base, NULL), WD_OK);
    free(base);
    u[n] = 'a';
    u[n + 1] = '\0';
    base = NULL;
    assert_int_equal(wd_fleet_parse_url(u, &base, NULL), WD_E_USAGE);
    assert_null(base);
}

/* ---- key file ---- */

static void t04_key_readable_by_others_is_refused(void **state)
{
    (void)state;
    static const unsigned modes[] = {0640, 0604, 0644, 0660};
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
        assert_int_equal(chmod(path_in("admin.key"), modes[i]), 0);
        wd_fleet_opts o = opts_for(NULL);
        wd_fleet_client *c = (wd_fleet_client *)1;
        wd_err e;
        wd_err_clear(&e);
        assert_int_equal(wd_fleet_open(&o, &c, &e), WD_E_IO);
        assert_null(c);
        assert_non_null(strstr(e.msg, "readable by group or others"));
    }
    assert_int_equal(chmod(path_in("admin.key"), 0400), 0);
    wd_fleet_client *c = open_client();
    wd_fleet_close(c);
    assert_int_equal(chmod(path_in("admin.key"), 0600), 0);
}

static void t05_bad_key_cert_and_ca_files(void **state)
{
    (void)state;
    write_text("enc.key", "-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n"
                          "-----END ENCRYPTED PRIVATE KEY-----\n");
    write_text("notkey.key", "hello\n");
    assert_int_equal(chmod(path_in("enc.key"), 0600), 0);
    assert_int_equal(chmod(path_in("notkey.key"), 0600), 0);
    /* a key file at the 16 KiB limit is read (then refused by content); one byte more is not */
    char *big = malloc(WD_MAX_KEY_FILE + 2);
    assert_non_null(big);
    memset(big, 'x', WD_MAX_KEY_FILE + 1);
    big[WD_MAX_KEY_FILE + 1] = '\0';
    write_text("big.key", big);
    big[WD_MAX_KEY_FILE] = '\0';
    write_text("limit.key", big);
    free(big);
    assert_int_equal(chmod(path_in("big.key"), 0600), 0);
    assert_int_equal(chmod(path_in("limit.key"), 0600), 0);
    static const struct {
        const char *key, *cert, *ca, *want;
    } cases[] = {
        {"missing.key", NULL, NULL, "cannot open key file"},
        {"enc.key", NULL, NULL, "encrypted private keys are not supported"},
        {"notkey.key", NULL, NULL, "not a PEM private key"},
        {"big.key", NULL, NULL, "larger than the key file limit"},
        {"limit.key", NULL, NULL, "not a PEM private key"},
        {"", NULL, NULL, "not a regular file"},
        {NULL, "missing.crt", NULL, "--cert"},
        {NULL, NULL, "missing.crt", "--ca"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wd_fleet_opts o = opts_for(cases[i].key ? path_in(cases[i].key) : NULL);
        if (cases[i].cert)
            o.cert_path = path_in(cases[i].cert);
        if (cases[i].ca)
            o.ca_path = path_in(cases[i].ca);
        wd_fleet_client *c = (wd_fleet_client *)1;
        wd_err e;
        wd_err_clear(&e);
        assert_int_equal(wd_fleet_open(&o, &c, &e), WD_E_IO);
        assert_null(c);
        if (strstr(e.msg, cases[i].want) == NULL)
            fail_msg("case %zu: '%s' lacks '%s'", i, e.msg, cases[i].want);
    }
}

/* ---- requests ---- */

static void t06_bad_arguments_send_nothing(void **state)
{
    (void)state;
    script("{\"status\":200,\"body\":{}}");
    wd_fleet_client *c = open_client();
    const char *crlf[] = {"X-A: 1\r\nX-B: 2", NULL};
    const char *nocolon[] = {"X-A", NULL};
    wd_fleet_response r;
    assert_int_equal(wd_fleet_request(c, "get", "/x", NULL, 0, NULL, 10, &r, NULL), WD_E_USAGE);
    assert_int_equal(wd_fleet_request(c, "GET", "x", NULL, 0, NULL, 10, &r, NULL), WD_E_USAGE);
    assert_int_equal(wd_fleet_request(c, "GET", "/a b", NULL, 0, NULL, 10, &r, NULL), WD_E_USAGE);
    assert_int_equal(wd_fleet_request(c, "GET", "/a#b", NULL, 0, NULL, 10, &r, NULL), WD_E_USAGE);
    assert_int_equal(wd_fleet_request(c, "GET", "/x", NULL, 0, crlf, 10, &r, NULL), WD_E_USAGE);
    assert_int_equal(wd_fleet_request(c, "GET", "/x", NULL, 0, nocolon, 10, &r, NULL), WD_E_USAGE);
    assert_int_equal(wd_fleet_request(c, "PUT", "/x", NULL, 3, NULL, 10, &r, NULL), WD_E_USAGE);
    assert_int_equal(wd_fleet_request(c, "GET", "/x", NULL, 0, NULL, 0, &r, NULL), WD_E_USAGE);
    assert_null(r.body);
    wd_fleet_close(c);
    size_t lines;
    free(records(&lines));
    assert_int_equal(lines, 0);
}

static void t07_one_connection_headers_sent_and_kept(void **state)
{
    (void)state;
    script("{\"status\":200,\"body\":\"{}\",\"headers\":{\"ETag\":\"\\\"sha256:ab\\\"\","
           "\"Preference-Applied\":\"wait=5\",\"Warden-Rollback-Authorization\":\"rb-1\","
           "\"X-Other\":\"no\"}}");
    wd_fleet_client *c = open_client();
    const char *hdrs[] = {"If-None-Match: \"sha256:cd\"", "Prefer: wait=5", NULL};
    for (int i = 0; i < 3; i++) {
        wd_fleet_response r;
        wd_err e;
        wd_err_clear(&e);
        assert_int_equal(wd_fleet_request(c, "GET", "/api/v1/conductor/policy/latest", NULL, 0,
                                          hdrs, 1024, &r, &e),
                         WD_OK);
        assert_int_equal(r.status, 200);
        assert_string_equal((char *)r.body, "{}");
        assert_string_equal(r.headers[WD_FLEET_HDR_ETAG], "\"sha256:ab\"");
        assert_string_equal(r.headers[WD_FLEET_HDR_PREFERENCE_APPLIED], "wait=5");
        assert_string_equal(r.headers[WD_FLEET_HDR_ROLLBACK_AUTHORIZATION], "rb-1");
        assert_string_equal(r.headers[WD_FLEET_HDR_CONTENT_TYPE], "application/json");
        assert_null(r.headers[WD_FLEET_HDR_RETRY_AFTER]);
        wd_fleet_response_free(&r);
    }
    wd_fleet_close(c);
    size_t lines;
    char *rec = records(&lines);
    assert_int_equal(lines, 3);
    assert_non_null(strstr(rec, "\"if-none-match\":\"\\\"sha256:cd\\\"\""));
    assert_non_null(strstr(rec, "\"prefer\":\"wait=5\""));
    assert_non_null(strstr(rec, "\"san\":\"URI:spiffe://td.test/org/acme/admin/alice\""));
    /* the same client port for all three: one TCP connection, reused */
    char *p = strstr(rec, "\"remote_port\":");
    assert_non_null(p);
    char port[32];
    snprintf(port, sizeof port, "%.*s", (int)strcspn(p + 14, "}"), p + 14);
    size_t same = 0;
    for (char *q = rec; (q = strstr(q, "\"remote_port\":")) != NULL; q += 14)
        same += strncmp(q + 14, port, strlen(port)) == 0;
    assert_int_equal(same, 3);
    free(rec);
}

static void t08_body_cap_at_and_past_the_limit(void **state)
{
    (void)state;
    char *js = malloc(1100);
    assert_non_null(js);
    char body[1001];
    memset(body, 'x', 1000);
    body[1000] = '\0';
    snprintf(js, 1100, "{\"status\":200,\"body\":\"%s\"}", body);
    script(js);
    free(js);
    wd_fleet_client *c = open_client();
    wd_fleet_response r;
    wd_err e;
    wd_err_clear(&e);
    assert_int_equal(wd_fleet_request(c, "GET", "/big", NULL, 0, NULL, 1000, &r, &e), WD_OK);
    assert_int_equal(r.body_len, 1000);
    assert_int_equal(r.body[1000], '\0');
    wd_fleet_response_free(&r);
    assert_int_equal(wd_fleet_request(c, "GET", "/big", NULL, 0, NULL, 999, &r, &e),
                     WD_E_OVERSIZED);
    assert_null(r.body);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(e.msg, "larger than 999 bytes"));
    /* the client still works after a transfer it cut */
    assert_int_equal(wd_fleet_request(c, "GET", "/big", NULL, 0, NULL, 1000, &r, &e), WD_OK);
    assert_int_equal(r.body_len, 1000);
    wd_fleet_response_free(&r);
    wd_fleet_close(c);
}

static void t09_empty_answer_and_exact_request_body(void **state)
{
    (void)state;
    script("{\"status\":304,\"body\":\"\"}");
    wd_fleet_client *c = open_client();
    static const unsigned char body[] = {'{', 0, 0xff, '\n', ' ', '}'};
    wd_fleet_response r;
    wd_err e;
    wd_err_clear(&e);
    assert_int_equal(wd_fleet_request(c, "POST", "/api/v1/conductor/status", body, sizeof body,
                                      NULL, 10, &r, &e),
                     WD_OK);
    assert_int_equal(r.status, 304);
    assert_non_null(r.body);
    assert_int_equal(r.body_len, 0);
    wd_fleet_response_free(&r);
    wd_fleet_close(c);
    size_t lines;
    char *rec = records(&lines);
    assert_int_equal(lines, 1);
    assert_non_null(strstr(rec, "\"method\":\"POST\""));
    assert_non_null(strstr(rec, "\"content-type\":\"application/json\""));
    assert_non_null(strstr(rec, "\"body\":\"ewD/CiB9\"")); /* base64 of the six bytes */
    assert_null(strstr(rec, "\"expect\""));
    free(rec);
}

static void t10_header_value_at_and_past_the_limit(void **state)
{
    (void)state;
    for (int extra = 0; extra <= 1; extra++) {
        size_t n = WD_FLEET_MAX_HEADER_VALUE + (size_t)extra;
        char *v = malloc(n + 1), *js = malloc(n + 100);
        assert_non_null(v);
        assert_non_null(js);
        memset(v, 'e', n);
        v[n] = '\0';
        snprintf(js, n + 100, "{\"status\":200,\"body\":\"\",\"headers\":{\"ETag\":\"%s\"}}", v);
        script(js);
        wd_fleet_client *c = open_client();
        wd_fleet_response r;
        wd_err e;
        wd_err_clear(&e);
        wd_code rc = wd_fleet_request(c, "GET", "/h", NULL, 0, NULL, 10, &r, &e);
        if (extra == 0) {
            assert_int_equal(rc, WD_OK);
            assert_string_equal(r.headers[WD_FLEET_HDR_ETAG], v);
        } else {
            assert_int_equal(rc, WD_E_IO);
            assert_non_null(strstr(e.msg, "bad ETag header"));
            assert_null(r.body);
        }
        wd_fleet_response_free(&r);
        wd_fleet_close(c);
        free(v);
        free(js);
    }
}

static void t11_timeout(void **state)
{
    (void)state;
    script("{\"hang\":true}");
    wd_fleet_client *c = open_client();
    wd_err e;
    wd_err_clear(&e);
    assert_int_equal(wd_fleet_set_timeout(c, 0, &e), WD_E_USAGE);
    assert_int_equal(wd_fleet_set_timeout(c, WD_FLEET_MAX_TIMEOUT_S + 1, &e), WD_E_USAGE);
    assert_int_equal(wd_fleet_set_timeout(c, 1, &e), WD_OK);
    wd_fleet_response r;
    assert_int_equal(wd_fleet_request(c, "GET", "/wait", NULL, 0, NULL, 10, &r, &e), WD_E_IO);
    assert_non_null(strstr(e.msg, "no complete answer within the time limit"));
    assert_null(r.body);
    wd_fleet_close(c);
}

/* A request held by the leader is cut short by a readable cancel descriptor (at once: the
 * timeout is 60 s, so a descriptor ignored would end in the timeout's message instead), and by
 * the cancel flag alone; afterwards the same client works again. */
static void t13_cancel(void **state)
{
    (void)state;
    script("{\"hang\":true}");
    wd_fleet_client *c = open_client();
    wd_err e;
    wd_err_clear(&e);
    assert_int_equal(wd_fleet_set_timeout(c, 60, &e), WD_OK);
    int p[2];
    assert_int_equal(pipe(p), 0);
    assert_int_equal(write(p[1], "x", 1), 1);
    wd_fleet_set_cancel_fd(c, p[0]);
    wd_fleet_response r;
    assert_int_equal(wd_fleet_request(c, "GET", "/wait", NULL, 0, NULL, 10, &r, &e), WD_E_IO);
    assert_non_null(strstr(e.msg, "cancelled"));
    assert_null(r.body);
    wd_fleet_set_cancel_fd(c, -1);
    static volatile int flag = 1;
    assert_int_equal(wd_fleet_set_cancel(c, &flag, &e), WD_OK);
    assert_int_equal(wd_fleet_request(c, "GET", "/wait", NULL, 0, NULL, 10, &r, &e), WD_E_IO);
    assert_non_null(strstr(e.msg, "cancelled"));
    assert_int_equal(wd_fleet_set_cancel(c, NULL, &e), WD_OK);
    script("{\"status\":304,\"body\":\"\"}");
    assert_int_equal(wd_fleet_request(c, "GET", "/again", NULL, 0, NULL, 10, &r, &e), WD_OK);
    assert_int_equal(r.status, 304);
    wd_fleet_response_free(&r);
    wd_fleet_close(c);
    close(p[0]);
    close(p[1]);
}

static void t12_error_body(void **state)
{
    (void)state;
    static const struct {
        const char *body, *code, *msg;
        bool found;
    } cases[] = {
        {"{\"error\":{\"code\":\"fork\",\"message\":\"held\",\"x\":1},\"y\":2}", "fork", "held",
         true},
        {"{\"error\":{\"code\":\"stale\"}}", "stale", "", true},
        {"{\"error\":{\"message\":\"m\"}}", "", "m", false},
        {"{\"error\":{\"code\":\"a\",\"code\":\"b\"}}", "", "", false},
        {"not json", "", "", false},
        {"", "", "", false},
        {"{\"error\":{\"code\":\"x\",\"message\":\"a\\u001bb\"}}", "x", "a?b", true},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wd_fleet_response r = {.status = 409, .body = (unsigned char *)cases[i].body,
                               .body_len = strlen(cases[i].body)};
        char code[32], msg[64];
        assert_int_equal(wd_fleet_error_body(&r, code, sizeof code, msg, sizeof msg),
                         cases[i].found);
        assert_string_equal(code, cases[i].code);
        assert_string_equal(msg, cases[i].msg);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: test_fleetclient NODE\n");
        return 2;
    }
    node_bin = argv[1];
    signal(SIGPIPE, SIG_IGN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(t01_url_accepts_host_and_port),
        cmocka_unit_test(t02_url_rejects_everything_else),
        cmocka_unit_test(t03_url_length_at_and_past_the_limit),
        cmocka_unit_test(t04_key_readable_by_others_is_refused),
        cmocka_unit_test(t05_bad_key_cert_and_ca_files),
        cmocka_unit_test(t06_bad_arguments_send_nothing),
        cmocka_unit_test(t07_one_connection_headers_sent_and_kept),
        cmocka_unit_test(t08_body_cap_at_and_past_the_limit),
        cmocka_unit_test(t09_empty_answer_and_exact_request_body),
        cmocka_unit_test(t10_header_value_at_and_past_the_limit),
        cmocka_unit_test(t11_timeout),
        cmocka_unit_test(t12_error_body),
        cmocka_unit_test(t13_cancel),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
