/* load.c — policy documents from bytes, files and the built-in text: YAML through the limited
 * loader, then validation and compilation. Must never compile a document that failed to load. */
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

wd_code wd_policy_load_file(const char *path, wd_policy **out, wd_err *e)
{
    *out = NULL;
    unsigned char *buf = NULL;
    size_t len = 0;
    wd_code rc = wd_read_file(path, WD_MAX_POLICY_BYTES, &buf, &len, e);
    if (rc != WD_OK)
        return rc;
    rc = wd_policy_load(buf, len, out, e);
    free(buf);
    return rc;
}

wd_code wd_policy_load_default(wd_policy **out, wd_err *e)
{
    const char *y = wd_policy_default_yaml();
    return wd_policy_load((const unsigned char *)y, strlen(y), out, e);
}
