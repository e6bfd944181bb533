package io.jvirtio.tools.vfio;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The guest's output read back on the host: each scenario's {@code ok: NAME} or
 * {@code FAIL: NAME: REASON} line (with the {@code   | } lines after it), the {@code FAIL:} lines
 * that belong to no scenario (the script's own {@code fail}), and any other line by prefix.
 */
final class GuestLines {
    private static final Pattern OK = Pattern.compile("^ok: (\\S+)(?: \\((\\d+) ms\\))?$");
    private static final Pattern FAIL = Pattern.compile("^FAIL: (\\S+?): (.*)$");

    /** One scenario's outcome. */
    record Outcome(boolean ok, String reason, long millis) {
    }

    private final List<String> lines;
    private final Map<String, Outcome> outcomes = new LinkedHashMap<>();
    private final List<String> strayFailures = new ArrayList<>();

    GuestLines(String output, List<String> scenarios) {
        this.lines = output.lines().toList();
        for (int i = 0; i < lines.size(); i++) {
            String l = lines.get(i);
            Matcher ok = OK.matcher(l);
            Matcher fail = FAIL.matcher(l);
            if (ok.matches() && scenarios.contains(ok.group(1))) {
                outcomes.put(ok.group(1), new Outcome(true, "", ok.group(2) == null ? -1 : Long.parseLong(ok.group(2))));
            } else if (fail.matches() && scenarios.contains(fail.group(1))) {
                StringBuilder reason = new StringBuilder(fail.group(2));
                for (int k = i + 1; k < lines.size() && lines.get(k).startsWith("  | "); k++) {
                    reason.append('\n').append(lines.get(k).substring(4));
                }
                outcomes.put(fail.group(1), new Outcome(false, reason.toString(), -1));
            } else if (l.startsWith("FAIL: ")) {
                strayFailures.add(l);
            }
        }
    }

    /** @return the scenario's outcome, empty when it never reported */
    Optional<Outcome> outcome(String scenario) {
        return Optional.ofNullable(outcomes.get(scenario));
    }

    /** @return {@code FAIL:} lines of no scenario (the script's {@code fail}) */
    List<String> strayFailures() {
        return strayFailures;
    }

    /** @return the lines starting with {@code prefix} */
    List<String> withPrefix(String prefix) {
        return lines.stream().filter(l -> l.startsWith(prefix)).toList();
    }

    /** @return the number after {@code prefix} on its first line ({@code guest: bound at uptime 3.2}), or -1 */
    double number(String prefix) {
        return withPrefix(prefix).stream().findFirst().map(l -> l.substring(prefix.length()).trim().split("[ ,]")[0])
                .map(Double::parseDouble).orElse(-1.0);
    }
}
