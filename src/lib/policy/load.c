/* load.c — policy documents from bytes, files and the built-in text: YAML through the limited
 * loader, then validation and compilation. A schema error read from a file is reported with the
 * file name and the line and column of the node it names. Must never compile a document that
 * failed to load. */
#include <stdlib.h>
#include <string.h>

#include "base/base.h"
#include "codec/yaml.h"
#include "policy_doc.h"

wd_code wd_policy_load(const unsigned char *buf, size_t len, wd_policy **out, wd_err *e)
{
    *out = NULL;
    json_t *doc = NULL;
    wd_code rc = wd_yaml_load(buf, len, &doc, e);
    if (rc != WD_OK)
        return rc;
    rc = wd_policy_compile_doc(doc, out, e);
    json_decref(doc);
    return rc;
}

wd_code wd_policy_load_named(const unsigned char *buf, size_t len, const char *name,
                             wd_policy **out, wd_err *e)
{
    *out = NULL;
    char shown[256];
    wd_clean_text(name ? name : "policy", shown, sizeof shown);
    json_t *doc = NULL;
    wd_yaml_marks *marks = NULL;
    wd_code rc = wd_yaml_load_marked(buf, len, &doc, &marks, e);
    if (rc != WD_OK)
        return rc == WD_E_NOMEM ? rc : wd_err_prefix(e, rc, "%s", shown);
    char path[400];
    rc = wd_policy_compile_doc_at(doc, out, path, sizeof path, e);
    if (rc == WD_E_INVALID_POLICY) {
        size_t line = 0, col = 0;
        if (path[0] != '\0' && wd_yaml_marks_find(marks, doc, path, &line, &col))
            wd_err_prefix(e, rc, "%s:%zu:%zu", shown, line, col);
        else
            wd_err_prefix(e, rc, "%s", shown);
    }
    wd_yaml_marks_free(marks);
    json_decref(doc);
    return rc;
}

wd_code wd_policy_load_file(const char *path, wd_policy **out, wd_err *e)
{
    *out = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    wd_code rc = wd_read_file(path, WD_MAX_POLICY_BYTES, &buf, &len, e);
    if (rc != WD_OK)
        return rc;
    rc = wd_policy_load_named(buf, len, strcmp(path, "-") == 0 ? "<stdin>" : path, out, e);
    free(buf);
    return rc;
}

wd_code wd_policy_load_default(wd_policy **out, wd_err *e)
{
    const char *y = wd_policy_default_yaml();
    return wd_policy_load((const unsigned char *)y, strlen(y), out, e);
}
