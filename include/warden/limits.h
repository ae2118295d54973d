/* limits.h — every size, count and time limit of SPEC §11 (and the few the SPEC implies), in one
 * place. Each has a test at the limit and one past it. Change a value here and nowhere else. */
#ifndef WARDEN_LIMITS_H
#define WARDEN_LIMITS_H

/* Envelope files, in bytes. */
#define WD_MAX_BUNDLE_ENVELOPE   (1024u * 1024u)
#define WD_MAX_KILL_ENVELOPE     (64u * 1024u)
#define WD_MAX_ROLLBACK_ENVELOPE (64u * 1024u)
#define WD_MAX_ROSTER_ENVELOPE   (256u * 1024u)
/* Any envelope whose type is not known in advance (warden dsse verify): the largest of the above. */
#define WD_MAX_ENVELOPE          WD_MAX_BUNDLE_ENVELOPE

/* Policy documents (YAML). */
#define WD_MAX_POLICY_BYTES      (256u * 1024u)
#define WD_MAX_POLICY_DEPTH      64
#define WD_MAX_POLICY_NODES      10000

/* JSON nesting: a top-level object is depth 1. */
#define WD_MAX_JSON_DEPTH        64

#define WD_MAX_SIGNATURES        16
#define WD_MAX_ROSTER_KEYS       256
#define WD_MAX_AUDIENCE_IDS      1024
#define WD_MAX_LABELS            64
#define WD_MAX_LABEL_VALUE       256

/* Identifiers: ^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$ */
#define WD_MAX_ID_LEN            128

#define WD_NOT_BEFORE_SKEW_S     60
#define WD_MAX_KILL_REASON       4096
#define WD_MAX_KILL_VALIDITY_S   (72 * 3600)
#define WD_MAX_ROLLBACK_VALIDITY_S (24 * 3600)
/* Versions (bundle, roster, rollback) and kill counters: integers in 1 .. 2^53 - 1, the range
 * every JSON reader holds exactly (JavaScript's Number.MAX_SAFE_INTEGER). */
#define WD_MAX_SAFE_INTEGER      9007199254740991LL
#define WD_MIN_THRESHOLD         1
#define WD_MAX_THRESHOLD         7

/* Key files (PEM) are small; anything larger is not a key. */
#define WD_MAX_KEY_FILE          (16u * 1024u)
/* X.509 certificate files (PEM; a CA certificate or a leaf, one certificate). */
#define WD_MAX_CERT_FILE         (64u * 1024u)
/* RunConfig JSON files. */
#define WD_MAX_RUNCONFIG         (64u * 1024u)
/* A tool call's arguments given as JSON (warden gate check --args, policy test cases). */
#define WD_MAX_TOOL_ARGS         (64u * 1024u)
/* The recorder settings the agent publishes in its state directory (recorder.json), as
 * `warden run --state-dir` reads them. */
#define WD_MAX_RECORDER_SETTINGS (64u * 1024u)
/* One MCP message (a newline-delimited JSON-RPC line) through the proxy of `warden run`;
 * `--max-message` changes it for one run. */
#define WD_MAX_MCP_MESSAGE       (4u * 1024u * 1024u)
/* One flight recorder line (without its newline): appends above it are refused, and the
 * verifier and the audit reader stop at a longer line. */
#define WD_MAX_RECORDER_LINE     (256u * 1024u)

#endif
