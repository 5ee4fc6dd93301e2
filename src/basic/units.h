/* units.h - sizes and durations as Docker prints them (go-units).
 *
 * human_size: decimal units (B, kB, MB, ...) with `precision` significant
 * digits, as units.HumanSizeWithPrecision: "1.24MB" (3, `images`), "2.145MB"
 * (4, progress bars). human_duration: units.HumanDuration: "Less than a
 * second", "1 second", "45 seconds", "About a minute", "12 minutes",
 * "About an hour", "5 hours", "3 days", "2 weeks", "4 months", "2 years";
 * callers add " ago" or "Up ". Both return malloc'd strings.
 */
#ifndef BERTH_BASIC_UNITS_H
#define BERTH_BASIC_UNITS_H

char *human_size(double bytes, int precision);
char *human_duration(long long seconds);

#endif
