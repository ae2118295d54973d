/* yaml.h — a limited YAML loader on libyaml that yields the same value tree as JSON (json_t).
 * It exists so policy documents can be read without letting a document exhaust memory or time. */
#ifndef WD_YAML_H
#define WD_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#include "warden/error.h"

/* Load exactly one YAML document from buf[0..len).
 * Plain scalars resolve by the YAML 1.2 core schema: null/~/empty -> null, true/false ->
 * boolean, decimal / 0x / 0o integers -> integer, floats -> real; quoted and block scalars are
 * strings. Mapping keys must be scalars and become strings.
 * Rejections: len > WD_MAX_POLICY_BYTES, nesting deeper than WD_MAX_POLICY_DEPTH, or more than
 * WD_MAX_POLICY_NODES nodes counting every alias as the full size of what it names ->
 * WD_E_OVERSIZED (checked before anything is copied, so an alias bomb fails fast and small);
 * a repeated mapping key -> WD_E_DUPLICATE_KEY; syntax errors, a second document, any tag
 * (explicit "!..." or "!!..."), a non-scalar key, an undefined alias -> WD_E_MALFORMED.
 * Messages give line and column. On success the caller owns *out; on error *out is NULL.
 * Details: every scalar (mapping keys included), sequence and mapping is one node, and an alias
 * counts as the nodes of what it names; a top-level mapping is depth 1 and an alias adds the
 * depth of what it names. An alias shares the anchored value (json_incref), so treat the tree
 * as read-only. An alias as a mapping key, an alias inside the node it names, a %TAG directive,
 * a NUL byte, invalid UTF-8, an integer outside int64, and .inf/.nan or a float that overflows
 * (JSON has no such values) are WD_E_MALFORMED. An empty stream or document is json null. */
wd_code wd_yaml_load(const unsigned char *buf, size_t len, json_t **out, wd_err *e);

/* Where the nodes of a loaded document are in its text, for messages. */
typedef struct wd_yaml_marks wd_yaml_marks;

/* wd_yaml_load that also records, for every value placed in the tree, where it and (in a
 * mapping) its key start. The table holds one small record per placed node, so it is bounded
 * by the node limit. On success the caller owns *out and *marks (wd_yaml_marks_free); on error
 * both are NULL. The table refers to the tree's nodes by address: use it only with that tree,
 * while the caller holds it. */
wd_code wd_yaml_load_marked(const unsigned char *buf, size_t len, json_t **out,
                            wd_yaml_marks **marks, wd_err *e);

/* The 1-based line and column of the node a message path names ("servers.rules[2].mtach":
 * keys after '.', indexes in brackets, as the policy validator writes them) in root, the tree
 * loaded with m. A path ending in a key gives the key's position, one ending in an index the
 * element's. A path that leaves the tree (a missing key) gives the position of the deepest node
 * it reached. False only when m, root or path is NULL or m has no root record. Allocates
 * nothing. */
bool wd_yaml_marks_find(const wd_yaml_marks *m, const json_t *root, const char *path,
                        size_t *line, size_t *col);

/* Free a position table; NULL is a no-op. */
void wd_yaml_marks_free(wd_yaml_marks *m);

#endif
