/* fuzz_spiffe.c — libFuzzer target for SPIFFE IDs (SPEC §12.1). Input: URI bytes, or
 * TD '\n' URI to choose the expected trust domain (default example.org). Any input must parse
 * or be refused with malformed / wrong-scope (usage only for an invalid TD) and a message, with
 * the output zeroed; a parsed identity must format back to the identical URI (the trust domain
 * lowercased, as it is compared case-insensitively), and that URI must parse to the same
 * identity. It must never crash, leak or read past the input. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "codec/spiffe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const wd_spiffe_id zero;
    char td[300] = "example.org";
    const char *uri = (const char *)data;
    size_t len = size;
    const uint8_t *nl = memchr(data, '\n', size);
    if (nl != NULL && (size_t)(nl - data) < sizeof td) {
        size_t n = (size_t)(nl - data);
        memcpy(td, data, n);
        td[n] = '\0';
        uri = (const char *)nl + 1;
        len = size - n - 1;
    }
    /* a copy of exactly len bytes, so that ASan sees any read past the end */
    char *copy = malloc(len ? len : 1);
    if (copy == NULL)
        return 0;
    memcpy(copy, uri, len);
    wd_spiffe_id id;
    wd_err e;
    wd_err_clear(&e);
    wd_code c = wd_spiffe_parse(copy, len, td, &id, &e);
    if (c != WD_OK) {
        bool td_ok = wd_spiffe_td_valid(td); /* as a C string: a NUL cuts it short */
        if (e.code != c || e.msg[0] == '\0' || memcmp(&id, &zero, sizeof id) != 0)
            __builtin_trap();
        if (td_ok ? (c != WD_E_MALFORMED && c != WD_E_WRONG_SCOPE) : c != WD_E_USAGE)
            __builtin_trap();
        free(copy);
        return 0;
    }
    char out[WD_SPIFFE_MAX + 1];
    if (wd_spiffe_format(&id, td, out, sizeof out, &e) != WD_OK)
        __builtin_trap();
    /* identical, except that the URI's trust domain may be written in another case */
    if (strlen(out) != len)
        __builtin_trap();
    size_t tdend = 9 + strlen(td);
    for (size_t i = 0; i < len; i++) {
        char a = copy[i];
        if (i >= 9 && i < tdend && a >= 'A' && a <= 'Z')
            a = (char)(a - 'A' + 'a');
        if (a != out[i])
            __builtin_trap();
    }
    wd_spiffe_id again;
    if (wd_spiffe_parse(out, strlen(out), td, &again, &e) != WD_OK ||
        memcmp(&again, &id, sizeof id) != 0)
        __builtin_trap();
    free(copy);
    return 0;
}
