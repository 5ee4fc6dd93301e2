/* units.c - Docker's human sizes and durations (see units.h). */
#include "units.h"

#include "alloc.h"
#include "macro.h"

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
