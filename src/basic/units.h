/* units.h - sizes, durations and times as Docker prints them (go-units).
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

/* Times as Docker's JSON carries them. rfc3339_now: UTC with all nine
 * fraction digits ("2006-01-02T15:04:05.000000000Z": fixed width, so the
 * text sorts in time order). rfc3339_parse: unix seconds of such a time
 * (fraction ignored; 0 when absent or unreadable); rfc3339_parse_ms the
 * same in milliseconds. */
char *rfc3339_now(void);
long long rfc3339_parse(const char *t);
long long rfc3339_parse_ms(const char *t);

#endif
