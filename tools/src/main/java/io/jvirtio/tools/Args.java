package io.jvirtio.tools;

import java.util.Locale;

/** Parsing of option values in bdevperf's shapes ({@code 4096}, {@code 4k}, {@code 1M}); every bad value is a {@link UserError} naming the option and the value. */
final class Args {
    private Args() {
    }

    /** Parses {@code 4096}, {@code 4k}, {@code 1M}, {@code 2G}. */
    static long parseSize(String option, String v) {
        String s = v.trim().toLowerCase(Locale.ROOT);
        long mult = 1;
        if (s.endsWith("k")) {
            mult = 1L << 10;
        } else if (s.endsWith("m")) {
            mult = 1L << 20;
        } else if (s.endsWith("g")) {
            mult = 1L << 30;
        }
        if (mult != 1) {
            s = s.substring(0, s.length() - 1);
        }
        try {
            long n = Long.parseLong(s);
            if (n < 0) {
                throw new UserError(option + " " + v + " must not be negative");
            }
            return Math.multiplyExact(n, mult);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new UserError(option + " " + v + " is not a number (use e.g. 4096, 4k, 1M, 1G)");
        }
    }

    /** {@link #parseSize} for an int, or {@code defaultValue} when {@code v} is null. */
    static int parseInt(String option, String v, int defaultValue) {
        if (v == null) {
            return defaultValue;
        }
        long n = parseSize(option, v);
        if (n > Integer.MAX_VALUE) {
            throw new UserError(option + " " + v + " is too large");
        }
        return (int) n;
    }

    /** A plain integer that may be negative (e.g. {@code --ctrlr-loss-timeout-sec -1}). */
    static int parseSignedInt(String option, String v, int defaultValue) {
        if (v == null) {
            return defaultValue;
        }
        try {
            return Integer.parseInt(v.trim());
        } catch (NumberFormatException e) {
            throw new UserError(option + " " + v + " is not a whole number");
        }
    }
}
