package io.powdb.backup.service;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.BitSet;

/**
 * A classic five-field cron expression, evaluated in UTC: minute (0-59), hour (0-23), day of month (1-31),
 * month (1-12), day of week (0-7, 0 and 7 are Sunday). Each field: {@code *}, a number, a range {@code a-b},
 * a step {@code * /n} or {@code a-b/n}, or a comma-separated list of these. As in cron, when both day fields
 * are restricted a day matches either. Also {@code @hourly}, {@code @daily}, {@code @weekly},
 * {@code @monthly}.
 */
public final class CronExpression {
    private final String text;
    private final BitSet minutes;
    private final BitSet hours;
    private final BitSet days;
    private final BitSet months;
    private final BitSet weekdays;
    private final boolean anyDay;
    private final boolean anyWeekday;

    private CronExpression(String text, String[] f) {
        this.text = text;
        this.minutes = field(f[0], 0, 59, "minute");
        this.hours = field(f[1], 0, 23, "hour");
        this.days = field(f[2], 1, 31, "day of month");
        this.months = field(f[3], 1, 12, "month");
        BitSet dow = field(f[4], 0, 7, "day of week");
        if (dow.get(7)) {
            dow.set(0);
        }
        this.weekdays = dow;
        this.anyDay = f[2].equals("*");
        this.anyWeekday = f[4].equals("*");
    }

    public static boolean looksLikeCron(String text) {
        String t = text.trim();
        return t.startsWith("@") || t.split("\\s+").length == 5;
    }

    public static CronExpression parse(String text) {
        String t = text.trim();
        String expanded = switch (t) {
            case "@hourly" -> "0 * * * *";
            case "@daily", "@midnight" -> "0 0 * * *";
            case "@weekly" -> "0 0 * * 0";
            case "@monthly" -> "0 0 1 * *";
            default -> t;
        };
        String[] fields = expanded.split("\\s+");
        if (fields.length != 5) {
            throw new IllegalArgumentException("'" + text + "' is not a cron expression: expected 5 fields "
                    + "(minute hour day-of-month month day-of-week, in UTC), e.g. '0 3 * * *'");
        }
        return new CronExpression(t, fields);
    }

    /** The first minute strictly after {@code after} that matches. */
    public Instant next(Instant after) {
        ZonedDateTime t = after.atZone(ZoneOffset.UTC).truncatedTo(ChronoUnit.MINUTES).plusMinutes(1);
        ZonedDateTime limit = t.plusYears(5); // an impossible date such as 31 February never matches
        while (t.isBefore(limit)) {
            if (!months.get(t.getMonthValue())) {
                t = t.withDayOfMonth(1).truncatedTo(ChronoUnit.DAYS).plusMonths(1);
            } else if (!dayMatches(t)) {
                t = t.truncatedTo(ChronoUnit.DAYS).plusDays(1);
            } else if (!hours.get(t.getHour())) {
                t = t.truncatedTo(ChronoUnit.HOURS).plusHours(1);
            } else if (!minutes.get(t.getMinute())) {
                t = t.plusMinutes(1);
            } else {
                return t.toInstant();
            }
        }
        throw new IllegalArgumentException("cron expression '" + text + "' never matches");
    }

    private boolean dayMatches(ZonedDateTime t) {
        boolean dom = days.get(t.getDayOfMonth());
        boolean dow = weekdays.get(t.getDayOfWeek().getValue() % 7);
        if (anyDay && anyWeekday) {
            return true;
        }
        if (anyDay) {
            return dow;
        }
        if (anyWeekday) {
            return dom;
        }
        return dom || dow;
    }

    private BitSet field(String spec, int min, int max, String name) {
        BitSet set = new BitSet(max + 1);
        for (String part : spec.split(",")) {
            int step = 1;
            String range = part;
            int slash = part.indexOf('/');
            if (slash >= 0) {
                step = number(part.substring(slash + 1), 1, max, name);
                range = part.substring(0, slash);
            }
            int from;
            int to;
            if (range.equals("*")) {
                from = min;
                to = max;
            } else if (range.contains("-")) {
                String[] ab = range.split("-", 2);
                from = number(ab[0], min, max, name);
                to = number(ab[1], min, max, name);
                if (to < from) {
                    throw new IllegalArgumentException("cron " + name + " range '" + range + "' runs backwards");
                }
            } else {
                from = number(range, min, max, name);
                to = slash >= 0 ? max : from;
            }
            for (int v = from; v <= to; v += step) {
                set.set(v);
            }
        }
        return set;
    }

    private static int number(String text, int min, int max, String name) {
        try {
            int v = Integer.parseInt(text);
            if (v < min || v > max) {
                throw new IllegalArgumentException("cron " + name + " " + v + " is outside " + min + "-" + max);
            }
            return v;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("cron " + name + " '" + text + "' is not a number");
        }
    }

    @Override
    public String toString() {
        return text;
    }
}
