package io.jvirtio.tools.perf;

import java.util.Locale;

/** bdevperf's {@code -w} patterns. */
public enum Workload {
    READ(false, 100),
    WRITE(false, 0),
    RANDREAD(true, 100),
    RANDWRITE(true, 0),
    RW(false, -1),
    RANDRW(true, -1);

    private final boolean random;
    /** percentage of reads, -1 when given by {@code -M} */
    private final int fixedReadPercent;

    Workload(boolean random, int fixedReadPercent) {
        this.random = random;
        this.fixedReadPercent = fixedReadPercent;
    }

    /** @return whether offsets are random (else sequential, wrapping) */
    public boolean random() {
        return random;
    }

    /** @return the read percentage for this pattern given {@code -M} */
    public int readPercent(int rwmixread) {
        return fixedReadPercent >= 0 ? fixedReadPercent : rwmixread;
    }

    /** @return the lower-case name as bdevperf spells it */
    public String spdkName() {
        return name().toLowerCase(Locale.ROOT);
    }

    /**
     * @param name as given to {@code -w}
     * @throws IllegalArgumentException naming the value and the choices
     */
    public static Workload parse(String name) {
        for (Workload w : values()) {
            if (w.spdkName().equals(name)) {
                return w;
            }
        }
        throw new IllegalArgumentException("-w " + name + ": unknown workload; one of read, write, randread, randwrite, rw, randrw");
    }
}
