package io.jvirtio.backend;

import io.jvirtio.backend.ring.CpuAffinity;

import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;

/**
 * A set of CPUs as SPDK's applications take it ({@code -m}, {@code --cpumask}): a hexadecimal mask
 * ({@code 0x3}, {@code 3}) or a list of CPUs and ranges ({@code [0,2-3]}, {@code 0+2-3} inside a
 * device spec, where a comma separates options).
 */
public final class CpuMask {
    private CpuMask() {
    }

    /**
     * @return the CPUs in ascending order
     * @throws IllegalArgumentException naming the text when it is no mask or list, is empty, or
     *                                  names a CPU beyond {@link CpuAffinity#MAX_CPUS}
     */
    public static List<Integer> parse(String text) {
        String t = text == null ? "" : text.trim();
        BitSet set = new BitSet();
        try {
            if (t.startsWith("[") || t.contains(",") || t.contains("+") || t.contains("-")) {
                String body = t.startsWith("[") && t.endsWith("]") ? t.substring(1, t.length() - 1) : t;
                for (String part : body.split("[,+]")) {
                    String p = part.trim();
                    int dash = p.indexOf('-');
                    int lo = Integer.parseInt(dash < 0 ? p : p.substring(0, dash));
                    int hi = dash < 0 ? lo : Integer.parseInt(p.substring(dash + 1));
                    if (lo < 0 || hi < lo || hi >= CpuAffinity.MAX_CPUS) {
                        throw new IllegalArgumentException("CPU mask " + text + ": " + p + " is not a CPU or range in 0.." + (CpuAffinity.MAX_CPUS - 1));
                    }
                    set.set(lo, hi + 1);
                }
            } else {
                String hex = t.startsWith("0x") || t.startsWith("0X") ? t.substring(2) : t;
                if (hex.isEmpty() || hex.length() > CpuAffinity.MAX_CPUS / 4) {
                    throw new NumberFormatException(hex);
                }
                for (int i = 0; i < hex.length(); i++) {
                    int nibble = Character.digit(hex.charAt(hex.length() - 1 - i), 16);
                    if (nibble < 0) {
                        throw new NumberFormatException(hex);
                    }
                    for (int b = 0; b < 4; b++) {
                        if ((nibble & (1 << b)) != 0) {
                            set.set(i * 4 + b);
                        }
                    }
                }
            }
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("CPU mask " + text + " is neither a hex mask (0x3) nor a list ([0,2-3])");
        }
        if (set.isEmpty()) {
            throw new IllegalArgumentException("CPU mask " + text + " names no CPU");
        }
        List<Integer> out = new ArrayList<>();
        set.stream().forEach(out::add);
        return out;
    }

    /**
     * @return {@code cpus} if this process may run on each of them
     * @throws IllegalArgumentException naming the CPUs it may not run on
     */
    public static List<Integer> requireAllowed(List<Integer> cpus, String what) {
        BitSet allowed = CpuAffinity.allowedCpus();
        List<Integer> bad = new ArrayList<>();
        for (int c : cpus) {
            if (!allowed.get(c)) {
                bad.add(c);
            }
        }
        if (!bad.isEmpty()) {
            throw new IllegalArgumentException(what + ": CPU(s) " + bad + " are not among the CPUs this process may run on " + allowed);
        }
        return cpus;
    }

    /** @return {@code cpus} as a hex mask, e.g. {@code 0x5} */
    public static String toHex(List<Integer> cpus) {
        BitSet s = new BitSet();
        cpus.forEach(s::set);
        StringBuilder b = new StringBuilder();
        for (int i = (s.length() + 3) / 4 - 1; i >= 0; i--) {
            int nibble = 0;
            for (int k = 0; k < 4; k++) {
                nibble |= s.get(i * 4 + k) ? 1 << k : 0;
            }
            b.append(Character.forDigit(nibble, 16));
        }
        return "0x" + (b.isEmpty() ? "0" : b);
    }
}
