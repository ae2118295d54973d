/* suggest.c — "did you mean" for unknown keys: the closest allowed name by edit distance.
 * Works on short names only, in fixed stack buffers; it must never allocate or read past a
 * name's end. */
#include <string.h>

#include "base.h"

/* Longest name compared; longer words get no suggestion. */
#define SUGGEST_MAX_LEN 64

size_t wd_edit_distance(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    if (la > SUGGEST_MAX_LEN || lb > SUGGEST_MAX_LEN)
        return (size_t)-1;
    /* optimal string alignment: insertions, deletions, substitutions and transpositions of
     * neighbours each cost 1; three rows of the table are enough */
    size_t rows[3][SUGGEST_MAX_LEN + 1];
    size_t *prev2 = rows[0], *prev = rows[1], *cur = rows[2];
    for (size_t j = 0; j <= lb; j++)
        prev[j] = j;
    for (size_t i = 1; i <= la; i++) {
        cur[0] = i;
        for (size_t j = 1; j <= lb; j++) {
            size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
            size_t best = prev[j] + 1;
            if (cur[j - 1] + 1 < best)
                best = cur[j - 1] + 1;
            if (prev[j - 1] + cost < best)
                best = prev[j - 1] + cost;
            if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
                prev2[j - 2] + 1 < best)
                best = prev2[j - 2] + 1;
            cur[j] = best;
        }
        size_t *t = prev2;
        prev2 = prev;
        prev = cur;
        cur = t;
    }
    return prev[lb];
}

const char *wd_suggest(const char *word, const char *const *names, size_t n)
{
    const char *best = NULL;
    size_t best_d = WD_SUGGEST_MAX_DISTANCE + 1;
    for (size_t i = 0; names != NULL && i < n && names[i] != NULL; i++) {
        size_t d = wd_edit_distance(word, names[i]);
        if (d < best_d && d > 0) {
            best = names[i];
            best_d = d;
        }
    }
    /* a word of one or two letters is within distance 2 of any short name: no guess */
    if (best != NULL && strlen(word) <= best_d)
        return NULL;
    return best;
}
