/* dsse.c — DSSE v1 envelopes (SPEC §1.2): strict decoding, PAE, signing and per-signature
 * verification. It must never parse the payload (that happens only after the caller has
 * checked the signatures), never accept a second spelling of an envelope field, and never
 * decide which keys count: that is the trust layer's job. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "msg/dsse.h"
#include "codec/json.h"
#include "base/base.h"

#define PAE_PREFIX "DSSEv1"

static const wd_jfield envelope_fields[] = {
    {"payloadType", WD_JT_STRING, true},
    {"payload", WD_JT_STRING, true},
    {"signatures", WD_JT_ARRAY, true},
};

static const wd_jfield signature_fields[] = {
    {"keyid", WD_JT_STRING, true},
    {"sig", WD_JT_STRING, true},
};

void wd_dsse_free(wd_dsse *d)
{
    if (d == NULL)
        return;
    free(d->payload_type);
    free(d->payload);
    memset(d, 0, sizeof *d);
}

/* One element of "signatures": exactly {keyid, sig}, keyid a digest, sig 64 bytes. */
static wd_code decode_sig(const json_t *v, size_t i, wd_dsse_sig *out, wd_err *e)
{
    char path[48];
    wd_path_index(path, sizeof path, "envelope.signatures", i);
    wd_code c = wd_json_check(v, path, signature_fields,
                              sizeof signature_fields / sizeof signature_fields[0], e);
    if (c != WD_OK)
        return c;
    unsigned char raw[WD_SHA256_LEN];
    c = wd_digest_parse(wd_json_str(v, "keyid"), raw, e);
    if (c != WD_OK)
        return wd_err_prefix(e, c, "%s.keyid", path);
    wd_digest_format(raw, out->keyid);

    const json_t *s = json_object_get(v, "sig");
    unsigned char *sig = NULL;
    size_t siglen = 0;
    c = wd_b64_decode(json_string_value(s), json_string_length(s), &sig, &siglen, e);
    if (c != WD_OK)
        return wd_err_prefix(e, c, "%s.sig", path);
    if (siglen != WD_ED25519_SIG_LEN) {
        free(sig);
        return wd_err_set(e, WD_E_MALFORMED, "%s.sig: %zu bytes, an Ed25519 signature has %d",
                          path, siglen, WD_ED25519_SIG_LEN);
    }
    memcpy(out->sig, sig, WD_ED25519_SIG_LEN);
    free(sig);
    return WD_OK;
}

/* wd_dsse_decode and wd_dsse_decode_draft: min_sigs is 1, or 0 for a draft. */
static wd_code decode(const unsigned char *buf, size_t len, size_t max, size_t min_sigs,
                      wd_dsse *out, wd_err *e)
{
    memset(out, 0, sizeof *out);
    if (len > max)
        return wd_err_set(e, WD_E_OVERSIZED, "envelope: %zu bytes, more than the limit of %zu",
                          len, max);
    json_t *root = NULL;
    wd_code c = wd_json_parse(buf, len, max, &root, e);
    if (c != WD_OK)
        return wd_err_prefix(e, c, "envelope");
    wd_dsse d;
    memset(&d, 0, sizeof d);

    c = wd_json_check(root, "envelope", envelope_fields,
                      sizeof envelope_fields / sizeof envelope_fields[0], e);
    if (c != WD_OK)
        goto fail;

    const json_t *type = json_object_get(root, "payloadType");
    if (json_string_length(type) == 0) {
        c = wd_err_set(e, WD_E_MALFORMED, "envelope.payloadType: empty");
        goto fail;
    }

    const json_t *sigs = json_object_get(root, "signatures");
    size_t n = json_array_size(sigs);
    if (n < min_sigs) {
        c = wd_err_set(e, WD_E_MALFORMED,
                       "envelope.signatures: no signatures (an unsigned draft: add signatures "
                       "with 'warden sign' first)");
        goto fail;
    }
    if (n > WD_MAX_SIGNATURES) {
        c = wd_err_set(e, WD_E_OVERSIZED,
                       "envelope.signatures: %zu signatures, more than the limit of %d", n,
                       WD_MAX_SIGNATURES);
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        c = decode_sig(json_array_get(sigs, i), i, &d.sigs[i], e);
        if (c != WD_OK)
            goto fail;
    }
    d.nsigs = n;

    const json_t *p = json_object_get(root, "payload");
    c = wd_b64_decode(json_string_value(p), json_string_length(p), &d.payload, &d.payload_len,
                      e);
    if (c != WD_OK) {
        wd_err_prefix(e, c, "envelope.payload");
        goto fail;
    }
    d.payload_type = strdup(json_string_value(type));
    if (d.payload_type == NULL) {
        c = wd_err_set(e, WD_E_NOMEM, "envelope: out of memory");
        goto fail;
    }
    json_decref(root);
    *out = d;
    return WD_OK;

fail:
    json_decref(root);
    wd_dsse_free(&d);
    return c;
}

wd_code wd_dsse_decode(const unsigned char *buf, size_t len, size_t max, wd_dsse *out,
                       wd_err *e)
{
    return decode(buf, len, max, 1, out, e);
}

wd_code wd_dsse_decode_draft(const unsigned char *buf, size_t len, size_t max, wd_dsse *out,
                             wd_err *e)
{
    return decode(buf, len, max, 0, out, e);
}

wd_code wd_dsse_pae(const char *type, const unsigned char *body, size_t len,
                    unsigned char **out, size_t *outlen, wd_err *e)
{
    *out = NULL;
    *outlen = 0;
    if (type == NULL || (body == NULL && len > 0))
        return wd_err_set(e, WD_E_INTERNAL, "PAE: missing input");
    size_t tlen = strlen(type);
    /* "DSSEv1 " + two decimal lengths (at most 20 digits each) + three spaces + NUL */
    char head[8 + 21 + 1];
    char mid[2 + 21 + 1];
    int hn = snprintf(head, sizeof head, PAE_PREFIX " %zu ", tlen);
    int mn = snprintf(mid, sizeof mid, " %zu ", len);
    if (hn < 0 || mn < 0 || (size_t)hn >= sizeof head || (size_t)mn >= sizeof mid)
        return wd_err_set(e, WD_E_INTERNAL, "PAE: length does not fit");
    size_t total = (size_t)hn;
    if (tlen > SIZE_MAX - total - (size_t)mn - 1)
        return wd_err_set(e, WD_E_OVERSIZED, "PAE: payload type too long");
    total += tlen + (size_t)mn;
    if (len > SIZE_MAX - total - 1)
        return wd_err_set(e, WD_E_OVERSIZED, "PAE: payload too long");
    total += len;
    unsigned char *buf = malloc(total + 1);
    if (buf == NULL)
        return wd_err_set(e, WD_E_NOMEM, "PAE: out of memory for %zu bytes", total);
    unsigned char *w = buf;
    memcpy(w, head, (size_t)hn);
    w += hn;
    memcpy(w, type, tlen);
    w += tlen;
    memcpy(w, mid, (size_t)mn);
    w += mn;
    if (len > 0)
        memcpy(w, body, len);
    buf[total] = '\0';
    *out = buf;
    *outlen = total;
    return WD_OK;
}

/* Append {"keyid":..., "sig":...} for one signature to arr. */
static wd_code add_sig(json_t *arr, const char *keyid, const unsigned char sig[WD_ED25519_SIG_LEN],
                       wd_err *e)
{
    char *b64 = wd_b64_encode(sig, WD_ED25519_SIG_LEN);
    json_t *o = json_object();
    int bad = b64 == NULL || o == NULL || json_object_set_new(o, "keyid", json_string(keyid)) != 0 ||
              json_object_set_new(o, "sig", json_string(b64)) != 0 || json_array_append(arr, o) != 0;
    json_decref(o);
    free(b64);
    return bad ? wd_err_set(e, WD_E_NOMEM, "signing: out of memory") : WD_OK;
}

/* wd_dsse_sign and wd_dsse_sign_draft: min_keys is 1, or 0 for a draft. */
static wd_code sign_env(const char *type, const unsigned char *payload, size_t len,
                        wd_key *const *keys, size_t nkeys, size_t min_keys, char **out,
                        size_t *outlen, wd_err *e)
{
    *out = NULL;
    *outlen = 0;
    if (type == NULL || type[0] == '\0')
        return wd_err_set(e, WD_E_USAGE, "signing: the payload type is empty");
    if (nkeys < min_keys || nkeys > WD_MAX_SIGNATURES)
        return wd_err_set(e, WD_E_USAGE, "signing: %zu keys given, between %zu and %d allowed",
                          nkeys, min_keys, WD_MAX_SIGNATURES);
    for (size_t i = 0; i < nkeys; i++) {
        if (keys[i] == NULL || !wd_key_has_private(keys[i]))
            return wd_err_set(e, WD_E_USAGE, "signing: key %zu has no private half", i + 1);
        for (size_t j = 0; j < i; j++)
            if (strcmp(wd_key_id(keys[i]), wd_key_id(keys[j])) == 0)
                return wd_err_set(e, WD_E_USAGE, "signing: key %s given twice",
                                  wd_key_id(keys[i]));
    }

    unsigned char *pae = NULL;
    size_t paelen = 0;
    wd_code c = wd_dsse_pae(type, payload, len, &pae, &paelen, e);
    if (c != WD_OK)
        return c;
    char *b64 = wd_b64_encode(payload, len);
    json_t *root = json_object();
    json_t *sigs = json_array();
    json_t *jtype = json_string(type);
    if (jtype == NULL && root != NULL) {
        c = wd_err_set(e, WD_E_USAGE, "signing: the payload type is not valid UTF-8");
        goto done;
    }
    if (b64 == NULL || root == NULL || sigs == NULL ||
        json_object_set(root, "payloadType", jtype) != 0 ||
        json_object_set_new(root, "payload", json_string(b64)) != 0 ||
        json_object_set(root, "signatures", sigs) != 0) {
        c = wd_err_set(e, WD_E_NOMEM, "signing: out of memory");
        goto done;
    }
    for (size_t i = 0; i < nkeys && c == WD_OK; i++) {
        unsigned char sig[WD_ED25519_SIG_LEN];
        c = wd_key_sign(keys[i], pae, paelen, sig, e);
        if (c == WD_OK)
            c = add_sig(sigs, wd_key_id(keys[i]), sig, e);
    }
    if (c != WD_OK)
        goto done;
    size_t n = 0;
    char *text = wd_json_dump(root, &n);
    if (text == NULL) {
        c = wd_err_set(e, WD_E_NOMEM, "signing: out of memory");
        goto done;
    }
    *out = text;
    *outlen = n;
done:
    json_decref(jtype);
    json_decref(sigs);
    json_decref(root);
    free(b64);
    free(pae);
    return c;
}

wd_code wd_dsse_sign(const char *type, const unsigned char *payload, size_t len,
                     wd_key *const *keys, size_t nkeys, char **out, size_t *outlen, wd_err *e)
{
    return sign_env(type, payload, len, keys, nkeys, 1, out, outlen, e);
}

wd_code wd_dsse_sign_draft(const char *type, const unsigned char *payload, size_t len,
                           wd_key *const *keys, size_t nkeys, char **out, size_t *outlen,
                           wd_err *e)
{
    return sign_env(type, payload, len, keys, nkeys, 0, out, outlen, e);
}

wd_code wd_dsse_check(const wd_dsse *d, wd_key *const *keys, size_t nkeys,
                      int result[WD_MAX_SIGNATURES], wd_err *e)
{
    for (size_t i = 0; i < WD_MAX_SIGNATURES; i++)
        result[i] = WD_SIG_UNKNOWN_KEY;
    if (d->nsigs > WD_MAX_SIGNATURES || (nkeys > 0 && keys == NULL) || nkeys > (size_t)INT32_MAX)
        return wd_err_set(e, WD_E_INTERNAL, "signature check: bad arguments");
    unsigned char *pae = NULL;
    size_t paelen = 0;
    wd_code c = wd_dsse_pae(d->payload_type, d->payload, d->payload_len, &pae, &paelen, e);
    if (c != WD_OK)
        return c;
    for (size_t i = 0; i < d->nsigs; i++) {
        for (size_t j = 0; j < nkeys; j++) {
            if (keys[j] == NULL || strcmp(wd_key_id(keys[j]), d->sigs[i].keyid) != 0)
                continue;
            if (wd_key_verify(keys[j], pae, paelen, d->sigs[i].sig, WD_ED25519_SIG_LEN)) {
                result[i] = (int)j;
                break;
            }
            result[i] = WD_SIG_INVALID;
        }
    }
    free(pae);
    return WD_OK;
}

wd_code wd_dsse_verify_any(const wd_dsse *d, wd_key *const *keys, size_t nkeys, size_t *nvalid,
                           wd_err *e)
{
    if (nvalid != NULL)
        *nvalid = 0;
    int result[WD_MAX_SIGNATURES];
    wd_code c = wd_dsse_check(d, keys, nkeys, result, e);
    if (c != WD_OK)
        return c;
    /* Distinct keyids that verified: a keyid that appears twice counts once. */
    const char *seen[WD_MAX_SIGNATURES];
    size_t nseen = 0;
    for (size_t i = 0; i < d->nsigs; i++) {
        if (result[i] == WD_SIG_INVALID)
            return wd_err_set(e, WD_E_BAD_SIGNATURE, "signature %zu by key %s does not verify",
                              i + 1, d->sigs[i].keyid);
        if (result[i] < 0)
            continue;
        const char *id = d->sigs[i].keyid;
        bool dup = false;
        for (size_t k = 0; k < nseen && !dup; k++)
            dup = strcmp(seen[k], id) == 0;
        if (!dup)
            seen[nseen++] = id;
    }
    if (nseen == 0)
        return wd_err_set(e, WD_E_BAD_SIGNATURE,
                          "no signature by any of the %zu given key(s) (first signature is by %s)",
                          nkeys, d->nsigs > 0 ? d->sigs[0].keyid : "nobody");
    if (nvalid != NULL)
        *nvalid = nseen;
    return WD_OK;
}

wd_code wd_dsse_message_hash(const wd_dsse *d, char out[WD_DIGEST_STRLEN + 1], wd_err *e)
{
    return wd_digest_of(d->payload, d->payload_len, out, e);
}

/* ---- drafts: encoding, adding one signature, merging ---- */

wd_code wd_dsse_encode(const wd_dsse *d, char **out, size_t *outlen, wd_err *e)
{
    *out = NULL;
    if (outlen != NULL)
        *outlen = 0;
    if (d == NULL || d->payload_type == NULL || d->nsigs > WD_MAX_SIGNATURES ||
        (d->payload == NULL && d->payload_len > 0))
        return wd_err_set(e, WD_E_INTERNAL, "envelope: nothing to encode");
    char *b64 = wd_b64_encode(d->payload, d->payload_len);
    json_t *root = json_object();
    json_t *sigs = json_array();
    json_t *jtype = json_string(d->payload_type);
    wd_code c = WD_OK;
    if (b64 == NULL || root == NULL || sigs == NULL || jtype == NULL ||
        json_object_set(root, "payloadType", jtype) != 0 ||
        json_object_set_new(root, "payload", json_string(b64)) != 0 ||
        json_object_set(root, "signatures", sigs) != 0)
        c = wd_err_set(e, WD_E_NOMEM, "envelope: out of memory");
    for (size_t i = 0; i < d->nsigs && c == WD_OK; i++)
        c = add_sig(sigs, d->sigs[i].keyid, d->sigs[i].sig, e);
    if (c == WD_OK) {
        size_t n = 0;
        char *text = wd_json_dump(root, &n);
        if (text == NULL) {
            c = wd_err_set(e, WD_E_NOMEM, "envelope: out of memory");
        } else {
            *out = text;
            if (outlen != NULL)
                *outlen = n;
        }
    }
    json_decref(jtype);
    json_decref(sigs);
    json_decref(root);
    free(b64);
    return c;
}

int wd_dsse_find_sig(const wd_dsse *d, const char *keyid)
{
    unsigned char want[WD_SHA256_LEN];
    if (d == NULL || wd_digest_parse(keyid, want, NULL) != WD_OK)
        return -1;
    for (size_t i = 0; i < d->nsigs && i < WD_MAX_SIGNATURES; i++) {
        unsigned char h[WD_SHA256_LEN];
        if (wd_digest_parse(d->sigs[i].keyid, h, NULL) == WD_OK && memcmp(h, want, sizeof h) == 0)
            return (int)i;
    }
    return -1;
}

wd_code wd_dsse_add_signature(wd_dsse *d, const wd_key *k, wd_err *e)
{
    if (d == NULL || k == NULL || d->payload_type == NULL)
        return wd_err_set(e, WD_E_INTERNAL, "signing: no envelope or key given");
    if (!wd_key_has_private(k))
        return wd_err_set(e, WD_E_USAGE, "signing: key %s has no private half", wd_key_id(k));
    if (wd_dsse_find_sig(d, wd_key_id(k)) >= 0)
        return wd_err_set(e, WD_E_USAGE, "already signed by %s: a key signs once",
                          wd_key_id(k));
    if (d->nsigs >= WD_MAX_SIGNATURES)
        return wd_err_set(e, WD_E_OVERSIZED,
                          "envelope: already %zu signatures, the limit is %d", d->nsigs,
                          WD_MAX_SIGNATURES);
    unsigned char *pae = NULL;
    size_t paelen = 0;
    wd_code c = wd_dsse_pae(d->payload_type, d->payload, d->payload_len, &pae, &paelen, e);
    if (c != WD_OK)
        return c;
    unsigned char sig[WD_ED25519_SIG_LEN];
    c = wd_key_sign(k, pae, paelen, sig, e);
    free(pae);
    if (c != WD_OK)
        return c;
    wd_dsse_sig *s = &d->sigs[d->nsigs];
    snprintf(s->keyid, sizeof s->keyid, "%s", wd_key_id(k));
    memcpy(s->sig, sig, sizeof sig);
    d->nsigs++;
    return WD_OK;
}

wd_code wd_dsse_merge(wd_dsse *into, const wd_dsse *from, size_t *added, wd_err *e)
{
    if (added != NULL)
        *added = 0;
    if (into == NULL || from == NULL || into->payload_type == NULL ||
        from->payload_type == NULL)
        return wd_err_set(e, WD_E_INTERNAL, "merge: no envelope given");
    if (strcmp(into->payload_type, from->payload_type) != 0) {
        char a[80], b[80];
        return wd_err_set(e, WD_E_WRONG_TYPE, "payloadType is '%s', not '%s'",
                          wd_clean_text(from->payload_type, b, sizeof b),
                          wd_clean_text(into->payload_type, a, sizeof a));
    }
    if (into->payload_len != from->payload_len ||
        (into->payload_len > 0 && memcmp(into->payload, from->payload, into->payload_len) != 0)) {
        char ha[WD_DIGEST_STRLEN + 1], hb[WD_DIGEST_STRLEN + 1];
        wd_code c = wd_dsse_message_hash(into, ha, e);
        if (c == WD_OK)
            c = wd_dsse_message_hash(from, hb, e);
        if (c != WD_OK)
            return c;
        return wd_err_set(e, WD_E_HASH_MISMATCH,
                          "the payload differs (message hash %s, not %s): only signatures over "
                          "the same bytes can be merged",
                          hb, ha);
    }
    /* Check every signature first, so that on error into is unchanged. */
    wd_dsse_sig extra[WD_MAX_SIGNATURES];
    size_t nextra = 0;
    for (size_t i = 0; i < from->nsigs && i < WD_MAX_SIGNATURES; i++) {
        const wd_dsse_sig *s = &from->sigs[i];
        int at = wd_dsse_find_sig(into, s->keyid);
        bool dup = false;
        for (size_t j = 0; j < nextra && !dup; j++)
            dup = strcmp(extra[j].keyid, s->keyid) == 0;
        const wd_dsse_sig *have = at >= 0 ? &into->sigs[at] : NULL;
        for (size_t j = 0; j < nextra && have == NULL; j++)
            if (strcmp(extra[j].keyid, s->keyid) == 0)
                have = &extra[j];
        if (have != NULL) {
            if (memcmp(have->sig, s->sig, WD_ED25519_SIG_LEN) != 0)
                return wd_err_set(e, WD_E_BAD_SIGNATURE,
                                  "key %s has two different signatures over the same payload: "
                                  "at most one of them verifies (check them with 'warden dsse "
                                  "verify --key')",
                                  s->keyid);
            continue; /* the same signature again: counted once */
        }
        if (into->nsigs + nextra >= WD_MAX_SIGNATURES)
            return wd_err_set(e, WD_E_OVERSIZED,
                              "merged envelope would carry more than %d signatures",
                              WD_MAX_SIGNATURES);
        extra[nextra++] = *s;
    }
    for (size_t j = 0; j < nextra; j++)
        into->sigs[into->nsigs++] = extra[j];
    if (added != NULL)
        *added = nextra;
    return WD_OK;
}
