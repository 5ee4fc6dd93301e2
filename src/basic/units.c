/* units.c - Docker's human sizes and durations (see units.h). */
#include "units.h"

#include <time.h>

#include "alloc.h"
#include "macro.h"

#include <string.h>

char *human_size(double bytes, int precision)
{
    static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};
    size_t i = 0;
    while (bytes >= 1000.0 && i < ARRAY_SIZE(units) - 1) {
        bytes /= 1000.0;
        i++;
    }
    return xasprintf("%.*g%s", precision, bytes, units[i]);
}

char *human_duration(long long seconds)
{
    long long minutes = seconds / 60;
    long long hours = (seconds + 1800) / 3600; /* int(d.Hours() + 0.5) */
    if (seconds < 1) {
        return xstrdup("Less than a second");
    }
    if (seconds == 1) {
        return xstrdup("1 second");
    }
    if (seconds < 60) {
        return xasprintf("%lld seconds", seconds);
    }
    if (minutes == 1) {
        return xstrdup("About a minute");
    }
    if (minutes < 60) {
        return xasprintf("%lld minutes", minutes);
    }
    if (hours == 1) {
        return xstrdup("About an hour");
    }
    if (hours < 48) {
        return xasprintf("%lld hours", hours);
    }
    if (hours < 24 * 7 * 2) {
        return xasprintf("%lld days", hours / 24);
    }
    if (hours < 24 * 30 * 2) {
        return xasprintf("%lld weeks", hours / 24 / 7);
    }
    if (hours < 24 * 365 * 2) {
        return xasprintf("%lld months", hours / 24 / 30);
    }
    return xasprintf("%lld years", seconds / (3600LL * 24 * 365));
}

char *rfc3339_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    char buf[64];
    strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    return xasprintf("%s.%09ldZ", buf, (long)ts.tv_nsec);
}

long long rfc3339_parse(const char *t)
{
    struct tm tm = {0};
    if (!t || !strptime(t, "%Y-%m-%dT%H:%M:%S", &tm)) {
        return 0;
    }
    return (long long)timegm(&tm);
}

long long rfc3339_parse_ms(const char *t)
{
    long long ms = 0;
    const char *dot = t ? strchr(t, '.') : NULL;
    for (int i = 1; dot && i <= 3 && dot[i] >= '0' && dot[i] <= '9'; i++) {
        ms = ms * 10 + (dot[i] - '0');
    }
    return rfc3339_parse(t) * 1000 + ms;
}
