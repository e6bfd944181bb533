package io.jvirtio.tools.perf;

import java.util.Locale;

/** bdevperf's {@code -w} patterns. */
public enum Workload {
    READ(false, 100, Op.DATA),
    WRITE(false, 0, Op.DATA),
    RANDREAD(true, 100, Op.DATA),
    RANDWRITE(true, 0, Op.DATA),
    RW(false, -1, Op.DATA),
    RANDRW(true, -1, Op.DATA),
    /** Write a pattern, read it back, compare: a mismatch counts as an error. */
    VERIFY(true, 0, Op.VERIFY),
    UNMAP(true, 0, Op.UNMAP),
    FLUSH(false, 0, Op.FLUSH),
    WRITE_ZEROES(true, 0, Op.WRITE_ZEROES);

    /** What one I/O of the workload does. */
    public enum Op { DATA, VERIFY, UNMAP, FLUSH, WRITE_ZEROES }

    private final boolean random;
    /** percentage of reads, -1 when given by {@code -M} */
    private final int fixedReadPercent;
    private final Op op;

    Workload(boolean random, int fixedReadPercent, Op op) {
        this.random = random;
        this.fixedReadPercent = fixedReadPercent;
        this.op = op;
    }

    /** @return whether offsets are random (else sequential, wrapping) */
    public boolean random() {
        return random;
    }

    /** @return what one I/O does */
    public Op op() {
        return op;
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
        throw new IllegalArgumentException("-w " + name + ": unknown workload; one of read, write, randread, randwrite, rw, randrw, "
                + "verify, unmap, flush, write_zeroes");
    }
}
