/* bench_verify.c — how long a follower takes to accept a policy bundle: decode the envelope,
 * check its signature against a roster, parse the payload, check scope, audience, window and
 * digest, load the YAML and validate the policy (wd_bundle_verify), for policies of 1 KiB,
 * 64 KiB and 256 KiB; and, measured the same way in the same run, the floor under it: one
 * Ed25519 verification and one SHA-256 pass over the same sizes. Prints medians in
 * microseconds. It measures; it must never be run as a test or gate anything on its numbers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/base.h"
#include "codec/yaml.h"
#include "crypto/crypto.h"
#include "msg/bundle.h"
#include "msg/dsse.h"
#include "policy/policy_doc.h"
#include "trust/roster.h"

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, size_t n)
{
    qsort(v, n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void die(const char *what, const wd_err *e)
{
    fprintf(stderr, "bench_verify: %s: %s\n", what, e ? e->msg : "failed");
    exit(1);
}

/* A valid policy of exactly size bytes: a header, as many rules as fit in the node budget and
 * the size, each with a long reason, then a comment line to reach the size. */
static char *policy_of(size_t size)
{
    static const char head[] =
        "version: 1\nmode: enforce\npermission_profiles:\n  restricted:\n    network: none\n"
        "    read: [\"/srv/data/**\"]\n    env: [\"HOME\", \"PATH\", \"MCP_*\"]\n"
        "    privileged: false\nservers:\n  default: deny\n  rules:\n";
    char *p = malloc(size + 1);
    if (p == NULL)
        die("policy", NULL);
    size_t len = strlen(head);
    memcpy(p, head, len);
    char rule[512];
    /* 12 nodes a rule keeps 800 rules under WD_MAX_POLICY_NODES. */
    for (int i = 0; i < 800; i++) {
        int n = snprintf(rule, sizeof rule,
                         "    - name: rule-%04d\n      action: %s\n"
                         "      reason: \"approved by security review SEC-%04d for team %04d; "
                         "owner on call, re-review due in two quarters, scope limited to the "
                         "data volume; see the register for the full record of this approval\"\n"
                         "      match:\n        name: [\"srv-%04d-*\"]\n",
                         i, i % 7 ? "allow" : "deny", i, i, i);
        if (len + (size_t)n + 16 > size)
            break;
        memcpy(p + len, rule, (size_t)n);
        len += (size_t)n;
    }
    if (len + 2 > size)
        die("policy size too small", NULL);
    p[len++] = '#';
    while (len < size - 1)
        p[len++] = 'x';
    p[len++] = '\n';
    p[len] = '\0';
    return p;
}

int main(void)
{
    wd_err e;
    wd_key *root = NULL, *signer = NULL;
    wd_roster *roster = NULL;
    int64_t now = wd_now();
    if (wd_key_generate(&root, &e) != WD_OK || wd_key_generate(&signer, &e) != WD_OK ||
        wd_roster_new("acme", &roster, &e) != WD_OK ||
        wd_roster_add_key(roster, true, root, WD_PURPOSE_ROSTER_ROOT, now - 60, INT64_MAX, NULL,
                          &e) != WD_OK ||
        wd_roster_add_key(roster, false, signer, WD_PURPOSE_BUNDLE_SIGNING, now - 60, INT64_MAX,
                          NULL, &e) != WD_OK)
        die("roster", &e);
    roster->created_at = now - 60;
    roster->expires_at = now + 86400;
    wd_label labels[] = {{(char *)"team", (char *)"payments"}};
    wd_follower f = {"acme", "prod", "eu1", "i-1", labels, 1};

    static const size_t sizes[] = {1024, 64 * 1024, 256 * 1024};
    printf("policy bundle verification on one core, median of N runs, microseconds\n");
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        size_t size = sizes[s];
        char *policy = policy_of(size);
        wd_bundle spec;
        memset(&spec, 0, sizeof spec);
        spec.bundle_id = (char *)"b-1";
        spec.scope.org_id = (char *)"acme";
        spec.scope.fleet_id = (char *)"prod";
        spec.scope.environment = (char *)"eu1";
        spec.audience.kind = WD_AUDIENCE_ALL;
        spec.version = 1;
        spec.created_at = spec.not_before = now - 60;
        spec.expires_at = now + 86400;
        spec.min_warden_version[1] = 1;
        spec.policy_yaml = policy;
        spec.policy_len = size;
        char *env = NULL;
        size_t env_len = 0;
        if (wd_digest_of(policy, size, spec.policy_sha256, &e) != WD_OK ||
            wd_bundle_build(&spec, &signer, 1, now, &env, &env_len, &e) != WD_OK)
            die("build", &e);
        /* The pieces, on the same bytes the verifier sees. */
        wd_dsse d;
        unsigned char *pae = NULL;
        size_t pae_len = 0;
        if (wd_dsse_decode((unsigned char *)env, env_len, WD_MAX_BUNDLE_ENVELOPE, &d, &e) !=
                WD_OK ||
            wd_dsse_pae(d.payload_type, d.payload, d.payload_len, &pae, &pae_len, &e) != WD_OK)
            die("decode", &e);

        enum { ALL, DECODE, PARSE, YAML, SCHEMA, ED25519, SHA256, NSTAGES };
        size_t runs = size <= 1024 ? 2001 : size <= 64 * 1024 ? 201 : 61;
        double *t[NSTAGES];
        for (int k = 0; k < NSTAGES; k++)
            if ((t[k] = calloc(runs, sizeof *t[k])) == NULL)
                die("memory", NULL);
        for (size_t i = 0; i < runs; i++) {
            wd_bundle *b = NULL;
            double t0 = now_us();
            wd_code c = wd_bundle_verify((unsigned char *)env, env_len, roster, &f, now, 0, &b, &e);
            t[ALL][i] = now_us() - t0;
            if (c != WD_OK)
                die("verify", &e);
            wd_bundle_free(b);

            wd_dsse d2;
            t0 = now_us();
            c = wd_dsse_decode((unsigned char *)env, env_len, WD_MAX_BUNDLE_ENVELOPE, &d2, &e);
            t[DECODE][i] = now_us() - t0;
            if (c != WD_OK)
                die("decode", &e);
            wd_dsse_free(&d2);

            t0 = now_us();
            c = wd_bundle_parse(d.payload, d.payload_len, &b, &e);
            t[PARSE][i] = now_us() - t0;
            if (c != WD_OK)
                die("parse", &e);
            wd_bundle_free(b);

            json_t *doc = NULL;
            t0 = now_us();
            c = wd_yaml_load((unsigned char *)policy, size, &doc, &e);
            t[YAML][i] = now_us() - t0;
            if (c != WD_OK)
                die("yaml", &e);
            t0 = now_us();
            c = wd_policy_validate_doc(doc, &e);
            t[SCHEMA][i] = now_us() - t0;
            if (c != WD_OK)
                die("schema", &e);
            json_decref(doc);

            t0 = now_us();
            bool ok = wd_key_verify(signer, pae, pae_len, d.sigs[0].sig, WD_ED25519_SIG_LEN);
            t[ED25519][i] = now_us() - t0;
            if (!ok)
                die("ed25519", NULL);
            unsigned char h[WD_SHA256_LEN];
            t0 = now_us();
            c = wd_sha256(policy, size, h, &e);
            t[SHA256][i] = now_us() - t0;
            if (c != WD_OK)
                die("sha256", &e);
        }
        double m[NSTAGES];
        for (int k = 0; k < NSTAGES; k++)
            m[k] = median(t[k], runs);
        printf("\npolicy_yaml %zu KiB (envelope %zu bytes), median of %zu runs:\n", size / 1024,
               env_len, runs);
        printf("  decode + verify + validate (wd_bundle_verify) %10.1f us  = %.0f bundles/s\n",
               m[ALL], 1e6 / m[ALL]);
        printf("    of which envelope decode (wd_dsse_decode)   %10.1f us\n", m[DECODE]);
        printf("    of which payload parse (wd_bundle_parse)    %10.1f us\n", m[PARSE]);
        printf("    of which YAML load (wd_yaml_load)           %10.1f us\n", m[YAML]);
        printf("    of which policy schema (validate_doc)       %10.1f us\n", m[SCHEMA]);
        printf("  floor: one Ed25519 verify over the PAE        %10.1f us\n", m[ED25519]);
        printf("  floor: one SHA-256 pass over policy_yaml      %10.1f us\n", m[SHA256]);
        for (int k = 0; k < NSTAGES; k++)
            free(t[k]);
        free(pae);
        wd_dsse_free(&d);
        free(env);
        free(policy);
    }
    printf("\n\"of which\" lines are the same steps timed alone; what is left of the total is the\n"
           "signature check against the roster (the Ed25519 floor plus building the PAE), the\n"
           "scope, audience and window checks, the SHA-256 of policy_yaml and the section\n"
           "allowlist.\n");
    wd_roster_free(roster);
    wd_key_free(root);
    wd_key_free(signer);
    return 0;
}
