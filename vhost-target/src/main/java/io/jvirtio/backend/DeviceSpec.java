package io.jvirtio.backend;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A device specification as given on the command line: {@code KIND[:ARG][,key=value|,flag]...}, e.g.
 * {@code ram:64M,bs=4096,ro,queues=2} or {@code file:/var/disk.img}. Options are taken one by one
 * by whoever understands them; {@link #checkAllTaken} then refuses any left, naming them.
 */
public final class DeviceSpec {
    private final String text;
    private final String kind;
    private final String argument;
    private final Map<String, String> options = new LinkedHashMap<>();

    private DeviceSpec(String text, String kind, String argument) {
        this.text = text;
        this.kind = kind;
        this.argument = argument;
    }

    /**
     * @throws IllegalArgumentException on an empty spec or an option given twice
     */
    public static DeviceSpec parse(String text) {
        if (text == null || text.isBlank()) {
            throw new IllegalArgumentException("empty device spec");
        }
        String[] parts = text.split(",");
        String head = parts[0];
        int colon = head.indexOf(':');
        DeviceSpec s = new DeviceSpec(text, colon < 0 ? head : head.substring(0, colon), colon < 0 ? null : head.substring(colon + 1));
        for (int i = 1; i < parts.length; i++) {
            String p = parts[i].trim();
            if (p.isEmpty()) {
                continue;
            }
            int eq = p.indexOf('=');
            String key = (eq < 0 ? p : p.substring(0, eq)).toLowerCase(Locale.ROOT);
            String value = eq < 0 ? null : p.substring(eq + 1);
            if (s.options.containsKey(key)) {
                throw new IllegalArgumentException("device spec " + text + ": option " + key + " given twice");
            }
            s.options.put(key, value);
        }
        return s;
    }

    /** @return the text this was parsed from */
    public String text() {
        return text;
    }

    /** @return the part before the first ':' (e.g. {@code ram}, {@code file}) */
    public String kind() {
        return kind;
    }

    /** @return the part after the first ':' of the first element, or null */
    public String argument() {
        return argument;
    }

    /** @return whether {@code key} is present (with or without a value) */
    public boolean has(String key) {
        return options.containsKey(key);
    }

    /** Takes {@code key=value}; @return the value, or {@code def} when absent */
    public String take(String key, String def) {
        if (!options.containsKey(key)) {
            return def;
        }
        String v = options.remove(key);
        if (v == null) {
            throw new IllegalArgumentException("device spec " + text + ": option " + key + " needs a value (" + key + "=...)");
        }
        return v;
    }

    /** Takes a flag ({@code ro}, or {@code ro=on|off|true|false|1|0}); @return its value, {@code def} when absent */
    public boolean takeFlag(String key, boolean def) {
        if (!options.containsKey(key)) {
            return def;
        }
        String v = options.remove(key);
        if (v == null) {
            return true;
        }
        return switch (v.toLowerCase(Locale.ROOT)) {
            case "on", "true", "1", "yes" -> true;
            case "off", "false", "0", "no" -> false;
            default -> throw new IllegalArgumentException("device spec " + text + ": option " + key + "=" + v + ": expected on or off");
        };
    }

    /** Takes an integer option. */
    public int takeInt(String key, int def) {
        String v = take(key, null);
        if (v == null) {
            return def;
        }
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("device spec " + text + ": option " + key + "=" + v + " is not an integer");
        }
    }

    /** Takes a size option ({@code 64M}, {@code 1G}, {@code 4096}). */
    public long takeSize(String key, long def) {
        String v = take(key, null);
        return v == null ? def : parseSize(v, text + ": option " + key);
    }

    /**
     * Parses {@code 123}, {@code 64K}, {@code 64M}, {@code 2G}, {@code 1T} (binary multiples, optional
     * trailing {@code B} or {@code iB}).
     *
     * @param what for the error message
     */
    public static long parseSize(String v, String what) {
        String s = v.trim().toUpperCase(Locale.ROOT);
        if (s.endsWith("IB")) {
            s = s.substring(0, s.length() - 2);
        } else if (s.endsWith("B")) {
            s = s.substring(0, s.length() - 1);
        }
        int shift = 0;
        if (!s.isEmpty()) {
            switch (s.charAt(s.length() - 1)) {
                case 'K' -> shift = 10;
                case 'M' -> shift = 20;
                case 'G' -> shift = 30;
                case 'T' -> shift = 40;
                default -> {
                }
            }
        }
        if (shift > 0) {
            s = s.substring(0, s.length() - 1);
        }
        try {
            long n = Long.parseLong(s);
            if (n <= 0 || n > (Long.MAX_VALUE >> shift)) {
                throw new NumberFormatException();
            }
            return n << shift;
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException(what + ": size " + v + " is not a positive number with an optional K/M/G/T suffix");
        }
    }

    /** @return the spec text without the options already taken (to hand the rest to another parser) */
    public String remainingText() {
        StringBuilder sb = new StringBuilder(kind);
        if (argument != null) {
            sb.append(':').append(argument);
        }
        options.forEach((k, v) -> sb.append(',').append(k).append(v == null ? "" : "=" + v));
        return sb.toString();
    }

    /**
     * @param deviceType for the message
     * @throws IllegalArgumentException naming every option nobody took
     */
    public void checkAllTaken(String deviceType) {
        if (!options.isEmpty()) {
            List<String> left = new ArrayList<>(options.keySet());
            throw new IllegalArgumentException(deviceType + " device spec " + text + ": unknown option(s) " + String.join(", ", left));
        }
    }

    @Override
    public String toString() {
        return text;
    }
}
