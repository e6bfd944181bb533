package io.jvirtio.tools;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Command-line options in the shape bdevperf uses: {@code -q 32}, {@code --output json}. Every
 * bad value is an {@link UsageException} naming the option and the value.
 */
final class Args {
    /** The config file option ({@code --json}, as SPDK's applications name it). */
    static final String JSON = "--json";
    /** bdevperf's names for {@link #JSON}: {@code -c}, {@code --config}; taken wherever {@code --json} is. */
    static final List<String> CONFIG_ALIASES = List.of("-c", "--config");

    private final Map<String, String> values = new LinkedHashMap<>();
    private final List<String> positional = new ArrayList<>();

    /** Thrown for a bad command line; the message says what is wrong and is shown to the user as is. */
    static final class UsageException extends RuntimeException {
        private static final long serialVersionUID = 1L;

        UsageException(String message) {
            super(message);
        }
    }

    /**
     * @param argv      the arguments after the command name
     * @param withValue the options that take a value (all others are flags)
     */
    static Args parse(String[] argv, List<String> withValue, List<String> flags) {
        Args a = new Args();
        for (int i = 0; i < argv.length; i++) {
            String arg = argv[i];
            if (CONFIG_ALIASES.contains(arg) && withValue.contains(JSON)) {
                arg = JSON;
            }
            if (arg.startsWith("-")) {
                if (withValue.contains(arg)) {
                    if (i + 1 >= argv.length) {
                        throw new UsageException(arg + " needs a value");
                    }
                    a.values.put(arg, argv[++i]);
                } else if (flags.contains(arg)) {
                    a.values.put(arg, "true");
                } else {
                    throw new UsageException("unknown option " + arg);
                }
            } else {
                a.positional.add(arg);
            }
        }
        return a;
    }

    String get(String option, String defaultValue) {
        return values.getOrDefault(option, defaultValue);
    }

    boolean has(String option) {
        return values.containsKey(option);
    }

    long getLong(String option, long defaultValue) {
        String v = values.get(option);
        return v == null ? defaultValue : parseSize(option, v);
    }

    int getInt(String option, int defaultValue) {
        long v = getLong(option, defaultValue);
        if (v > Integer.MAX_VALUE) {
            throw new UsageException(option + " " + v + " is too large");
        }
        return (int) v;
    }

    List<String> positional() {
        return positional;
    }

    /** Parses {@code 4096}, {@code 4k}, {@code 1M}, {@code 2G}. */
    static long parseSize(String option, String v) {
        String s = v.trim().toLowerCase(java.util.Locale.ROOT);
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
                throw new UsageException(option + " " + v + " must not be negative");
            }
            return Math.multiplyExact(n, mult);
        } catch (NumberFormatException | ArithmeticException e) {
            throw new UsageException(option + " " + v + " is not a number (use e.g. 4096, 4k, 1M, 1G)");
        }
    }
}
