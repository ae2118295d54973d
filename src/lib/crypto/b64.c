/* b64.c — RFC 4648 §4 base64 (standard alphabet, padding required) on OpenSSL's EVP block coder.
 * Decoding is strict: it must never accept a second spelling of the same bytes (no whitespace,
 * no missing or misplaced padding, no non-zero unused bits), and never allocate before the
 * input has been checked. */
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "crypto/crypto.h"

/* Inputs are coded in chunks so that EVP's int lengths never overflow. Multiples of 4 and 3. */
#define DEC_CHUNK (4u * 262144u) /* characters */
#define ENC_CHUNK (3u * 262144u) /* bytes */

/* 6-bit value of a standard-alphabet character, or -1. */
static int b64_value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == '+')
        return 62;
    if (c == '/')
        return 63;
    return -1;
}

wd_code wd_b64_decode(const char *in, size_t inlen, unsigned char **out, size_t *outlen,
                      wd_err *e)
{
    *out = NULL;
    *outlen = 0;
    if (in == NULL && inlen > 0)
        return wd_err_set(e, WD_E_INTERNAL, "base64: no input");
    if (inlen % 4 != 0)
        return wd_err_set(e, WD_E_MALFORMED,
                          "base64: length %zu is not a multiple of 4 (padding is required)",
                          inlen);
    size_t pad = 0;
    if (inlen > 0 && in[inlen - 1] == '=')
        pad = (inlen > 1 && in[inlen - 2] == '=') ? 2 : 1;
    for (size_t i = 0; i < inlen; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == '=') {
            if (i < inlen - pad)
                return wd_err_set(e, WD_E_MALFORMED,
                                  "base64: padding '=' at offset %zu before the end", i);
            continue;
        }
        if (b64_value(c) < 0)
            return wd_err_set(e, WD_E_MALFORMED,
                              "base64: byte 0x%02x at offset %zu is not in the standard alphabet",
                              c, i);
    }
    if (pad > 0) {
        /* The last data character carries unused low bits (4 with "==", 2 with "="). */
        int last = b64_value((unsigned char)in[inlen - pad - 1]);
        int mask = pad == 2 ? 0x0f : 0x03;
        if ((last & mask) != 0)
            return wd_err_set(e, WD_E_MALFORMED,
                              "base64: non-zero unused bits before the padding (not canonical)");
    }

    size_t n = inlen / 4 * 3 - pad;
    unsigned char *buf = malloc(inlen / 4 * 3 + 1);
    if (buf == NULL)
        return wd_err_set(e, WD_E_NOMEM, "base64: out of memory for %zu bytes", n);
    size_t done = 0, w = 0;
    while (done < inlen) {
        size_t chunk = inlen - done < DEC_CHUNK ? inlen - done : DEC_CHUNK;
        int r = EVP_DecodeBlock(buf + w, (const unsigned char *)in + done, (int)chunk);
        if (r < 0 || (size_t)r != chunk / 4 * 3) {
            free(buf);
            return wd_err_set(e, WD_E_MALFORMED, "base64: decoding failed at offset %zu", done);
        }
        done += chunk;
        w += (size_t)r;
    }
    /* EVP_DecodeBlock counts padding as zero bytes; drop them. */
    buf[n] = '\0';
    *out = buf;
    *outlen = n;
    return WD_OK;
}

char *wd_b64_encode(const unsigned char *in, size_t len)
{
    if (in == NULL && len > 0)
        return NULL;
    if (len / 3 >= (SIZE_MAX - 1) / 4 - 1)
        return NULL;
    size_t outlen = (len + 2) / 3 * 4;
    char *out = malloc(outlen + 1);
    if (out == NULL)
        return NULL;
    size_t done = 0, w = 0;
    while (done < len) {
        size_t chunk = len - done < ENC_CHUNK ? len - done : ENC_CHUNK;
        int r = EVP_EncodeBlock((unsigned char *)out + w, in + done, (int)chunk);
        if (r < 0) {
            free(out);
            return NULL;
        }
        done += chunk;
        w += (size_t)r;
    }
    out[w] = '\0';
    return out;
}
