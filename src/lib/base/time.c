/* time.c — RFC 3339 UTC times in exactly one spelling (YYYY-MM-DDTHH:MM:SSZ) and Go-style
 * durations. Never accepts a second spelling of the same instant. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base.h"

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? (unsigned)-3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static int digits(const char *s, int n)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

wd_code wd_time_parse(const char *s, int64_t *out, wd_err *e)
{
    char shown[48];
    if (s == NULL || strlen(s) != WD_TIME_STRLEN || s[4] != '-' || s[7] != '-' ||
        s[10] != 'T' || s[13] != ':' || s[16] != ':' || s[19] != 'Z')
        goto bad;
    int y = digits(s, 4), mo = digits(s + 5, 2), d = digits(s + 8, 2);
    int h = digits(s + 11, 2), mi = digits(s + 14, 2), se = digits(s + 17, 2);
    if (y < 0 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || se < 0 ||
        se > 59)
        goto bad;
    static const unsigned mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    unsigned maxd = mdays[mo - 1];
    if (mo == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
        maxd = 29;
    if ((unsigned)d > maxd)
        goto bad;
    *out = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + se;
    return WD_OK;
bad:
    return wd_err_set(e, WD_E_MALFORMED, "time '%s' is not YYYY-MM-DDTHH:MM:SSZ",
                      wd_clean_text(s, shown, sizeof shown));
}

void wd_time_format(int64_t t, char out[WD_TIME_STRLEN + 1])
{
    const int64_t lo = days_from_civil(0, 1, 1) * 86400;
    const int64_t hi = days_from_civil(9999, 12, 31) * 86400 + 86399;
    if (t < lo)
        t = lo;
    if (t > hi)
        t = hi;
    int64_t days = t / 86400, secs = t % 86400;
    if (secs < 0) {
        secs += 86400;
        days--;
    }
    int64_t y;
    unsigned m, d;
    civil_from_days(days, &y, &m, &d);
    char buf[96];
    snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02d:%02d:%02dZ", (int)y, m, d,
             (int)(secs / 3600), (int)(secs / 60 % 60), (int)(secs % 60));
    memcpy(out, buf, WD_TIME_STRLEN);
    out[WD_TIME_STRLEN] = '\0';
}

int64_t wd_now(void)
{
    return (int64_t)time(NULL);
}

wd_code wd_duration_parse(const char *s, int64_t *seconds, wd_err *e)
{
    char shown[48];
    int64_t total = 0;
    const char *p = s;
    if (s == NULL || *s == '\0')
        goto bad;
    while (*p) {
        if (*p < '0' || *p > '9')
            goto bad;
        int64_t v = 0;
        while (*p >= '0' && *p <= '9') {
            if (v > (INT64_MAX - 9) / 10)
                goto bad;
            v = v * 10 + (*p++ - '0');
        }
        int64_t unit;
        switch (*p) {
        case 'h': unit = 3600; break;
        case 'm': unit = 60; break;
        case 's': unit = 1; break;
        default: goto bad;
        }
        p++;
        if (v > (INT64_MAX - total) / unit)
            goto bad;
        total += v * unit;
    }
    if (total <= 0)
        goto bad;
    *seconds = total;
    return WD_OK;
bad:
    return wd_err_set(e, WD_E_USAGE,
                      "duration '%s' is not a positive Go-style duration such as 90s, 15m, 720h",
                      wd_clean_text(s, shown, sizeof shown));
}
