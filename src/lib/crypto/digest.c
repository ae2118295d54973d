/* digest.c — hex, SHA-256 (EVP_Digest), "sha256:<hex>" digest strings and constant-time
 * comparison. Output is always lowercase; input digests may use either case. Must never accept
 * a digest that is not exactly "sha256:" + 64 hex digits. */
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>

#include "crypto/crypto.h"
#include "base/base.h"

#define DIGEST_PREFIX "sha256:"
#define DIGEST_PREFIX_LEN 7

void wd_hex_encode(const unsigned char *in, size_t len, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
    out[2 * len] = '\0';
}

wd_code wd_sha256(const void *data, size_t len, unsigned char out[WD_SHA256_LEN], wd_err *e)
{
    static const unsigned char empty[1] = {0};
    unsigned int n = 0;
    if (data == NULL && len > 0)
        return wd_err_set(e, WD_E_INTERNAL, "SHA-256: no input");
    if (EVP_Digest(data ? data : empty, len, out, &n, EVP_sha256(), NULL) != 1 ||
        n != WD_SHA256_LEN) {
        ERR_clear_error();
        return wd_err_set(e, WD_E_CRYPTO, "SHA-256: OpenSSL digest failed");
    }
    return WD_OK;
}

void wd_digest_format(const unsigned char h[WD_SHA256_LEN], char out[WD_DIGEST_STRLEN + 1])
{
    memcpy(out, DIGEST_PREFIX, DIGEST_PREFIX_LEN);
    wd_hex_encode(h, WD_SHA256_LEN, out + DIGEST_PREFIX_LEN);
}

wd_code wd_digest_parse(const char *s, unsigned char out[WD_SHA256_LEN], wd_err *e)
{
    char shown[96];
    if (s == NULL)
        return wd_err_set(e, WD_E_MALFORMED, "digest: missing");
    size_t len = strnlen(s, WD_DIGEST_STRLEN + 1);
    if (strncmp(s, DIGEST_PREFIX, DIGEST_PREFIX_LEN) != 0)
        return wd_err_set(e, WD_E_MALFORMED, "digest \"%s\": must start with \"sha256:\"",
                          wd_clean_text(s, shown, sizeof shown));
    if (len != WD_DIGEST_STRLEN)
        return wd_err_set(e, WD_E_MALFORMED,
                          "digest \"%s\": must be \"sha256:\" followed by 64 hex digits",
                          wd_clean_text(s, shown, sizeof shown));
    unsigned char raw[WD_SHA256_LEN];
    const char *hex = s + DIGEST_PREFIX_LEN;
    for (size_t i = 0; i < WD_SHA256_LEN; i++) {
        int hi = OPENSSL_hexchar2int((unsigned char)hex[2 * i]);
        int lo = OPENSSL_hexchar2int((unsigned char)hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return wd_err_set(e, WD_E_MALFORMED, "digest \"%s\": not a hex digit at offset %zu",
                              wd_clean_text(s, shown, sizeof shown),
                              DIGEST_PREFIX_LEN + 2 * i + (hi < 0 ? 0 : 1));
        raw[i] = (unsigned char)(hi << 4 | lo);
    }
    memcpy(out, raw, sizeof raw);
    return WD_OK;
}

wd_code wd_digest_of(const void *data, size_t len, char out[WD_DIGEST_STRLEN + 1], wd_err *e)
{
    unsigned char h[WD_SHA256_LEN];
    wd_code c = wd_sha256(data, len, h, e);
    if (c != WD_OK)
        return c;
    wd_digest_format(h, out);
    return WD_OK;
}

bool wd_ct_eq(const void *a, const void *b, size_t len)
{
    return CRYPTO_memcmp(a, b, len) == 0;
}
