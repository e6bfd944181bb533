package io.jvirtio.config;

import com.fasterxml.jackson.databind.JsonNode;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Prints {@code bdev_get_iostat} answers as SPDK's {@code scripts/iostat.py} does (its device table,
 * {@code -d}): per bdev {@code Device  tps  KB_read/s  KB_wrtn/s  KB_dscd/s  KB_read  KB_wrtn  KB_dscd}
 * ({@code MB_} with {@link Unit#MB}), left-aligned columns as wide as their widest cell, two spaces
 * apart, a blank line after the table; with {@code extended} the {@code -x} columns, "N/A" as SPDK
 * prints them for a bdev without queue-depth sampling (jvirtio has none).
 *
 * <p>Stateful as iostat.py's loop: each {@link #sample} is compared with the previous one (rates
 * over the interval between their {@code ticks}, amounts moved in it); the first, or a bdev not seen
 * before, against the clock's origin ({@code ticks / tick_rate}: jvirtio's ticks are
 * {@link System#nanoTime()}, on Linux the monotonic clock since boot, as SPDK's TSC). The input is
 * the JSON result, so the same printer serves an in-process registry
 * ({@link IostatJson#bdevGetIostat(BdevRegistry)}) and a remote {@code jvirtio serve} socket.
 * Not thread-safe.
 */
public final class IostatFormatter {
    /** The unit of the byte columns: iostat.py's {@code -k} (default) and {@code -m}. */
    public enum Unit {
        /** KiB: sectors / 2 */
        KB(2),
        /** MiB: sectors / 2048 */
        MB(2048);

        final int sectors;

        Unit(int sectors) {
            this.sectors = sectors;
        }
    }

    /** iostat.py's extended (-x) columns. */
    public static final List<String> EXTENDED_HEADER = List.of("qu-sz", "aqu-sz", "wareq-sz", "rareq-sz", "w_await(us)", "r_await(us)", "util");
    /** iostat.py's cpu line header ({@link #cpuStat}). */
    public static final List<String> CPU_HEADER = List.of("cpu_stat:", "user_stat", "nice_stat", "system_stat", "iowait_stat",
            "steal_stat", "idle_stat");

    private final Unit unit;
    private final boolean extended;
    private Map<String, Sample> last = Map.of();

    /**
     * @param unit     KB or MB columns
     * @param extended add the {@code -x} columns
     */
    public IostatFormatter(Unit unit, boolean extended) {
        this.unit = unit;
        this.extended = extended;
    }

    /** @return the header of the device table */
    public List<String> header() {
        String u = unit.name();
        List<String> h = new ArrayList<>(List.of("Device", "tps", u + "_read/s", u + "_wrtn/s", u + "_dscd/s", u + "_read", u + "_wrtn", u + "_dscd"));
        if (extended) {
            h.addAll(EXTENDED_HEADER);
        }
        return h;
    }

    /**
     * @param iostat a {@code bdev_get_iostat} result ({@code tick_rate}, {@code ticks}, {@code bdevs})
     * @return the table for this sample, as iostat.py prints it (ends with a blank line)
     */
    public String sample(JsonNode iostat) {
        double rate = iostat.get("tick_rate").asDouble();
        long ticks = iostat.get("ticks").asLong();
        Map<String, Sample> now = new HashMap<>();
        List<List<String>> rows = new ArrayList<>();
        for (JsonNode b : iostat.get("bdevs")) {
            Sample s = new Sample(b, ticks);
            now.put(s.name, s);
            Sample prev = last.get(s.name);
            Sample base = prev != null ? prev : Sample.ORIGIN;
            double interval = (s.ticks - base.ticks) / rate;
            long rd = s.rdSectors - base.rdSectors;
            long wr = s.wrSectors - base.wrSectors;
            long dc = s.dcSectors - base.dcSectors;
            double tps = ((s.rdIos + s.dcIos + s.wrIos) - (base.rdIos + base.dcIos + base.wrIos)) / interval;
            List<String> row = new ArrayList<>(List.of(s.name, f(tps), f(rd / interval / unit.sectors), f(wr / interval / unit.sectors),
                    f(dc / interval / unit.sectors), f((double) rd / unit.sectors), f((double) wr / unit.sectors), f((double) dc / unit.sectors)));
            if (extended) {
                for (int i = 0; i < EXTENDED_HEADER.size(); i++) {
                    row.add("N/A");
                }
            }
            rows.add(row);
        }
        last = now;
        return rows.isEmpty() ? "" : table(header(), rows, false);
    }

    /**
     * iostat.py's cpu line from two readings of the {@code cpu} line of {@code /proc/stat}.
     *
     * @param last the previous reading, or null for the first (then: since boot)
     * @param now  user, nice, system, idle, iowait, irq, softirq, steal, ... (at least 8)
     */
    public static String cpuStat(long[] last, long[] now) {
        long[] l = last == null ? new long[now.length] : last;
        double jiffies = 0;
        for (int i = 0; i < 7; i++) {
            jiffies += now[i] - l[i];
        }
        List<String> row = List.of(pct((now[0] - l[0]) / jiffies), pct((now[1] - l[1]) / jiffies),
                pct(((now[2] + now[5] + now[6]) - (l[2] + l[5] + l[6])) / jiffies), pct((now[4] - l[4]) / jiffies),
                pct((now[7] - l[7]) / jiffies), pct((now[3] - l[3]) / jiffies));
        return table(CPU_HEADER, List.of(row), true);
    }

    /**
     * iostat.py's {@code _stat_format}: left-aligned columns as wide as the widest of header and
     * cells, two spaces apart, a blank line after.
     *
     * @param leaveFirst the header has one more column than the rows, left empty (the cpu line)
     */
    public static String table(List<String> header, List<List<String>> rows, boolean leaveFirst) {
        int shift = leaveFirst ? 1 : 0;
        int[] width = new int[header.size()];
        for (int i = 0; i < header.size(); i++) {
            width[i] = header.get(i).length();
        }
        for (List<String> r : rows) {
            if (r.size() + shift != header.size()) {
                throw new IllegalArgumentException("a row of " + r.size() + " cells under " + header.size() + " headers");
            }
            for (int i = 0; i < r.size(); i++) {
                width[i + shift] = Math.max(width[i + shift], r.get(i).length());
            }
        }
        StringBuilder sb = new StringBuilder();
        line(sb, header, width);
        for (List<String> r : rows) {
            List<String> cells = new ArrayList<>(r);
            if (leaveFirst) {
                cells.addFirst("");
            }
            line(sb, cells, width);
        }
        sb.append('\n');
        return sb.toString();
    }

    private static void line(StringBuilder sb, List<String> cells, int[] width) {
        for (int i = 0; i < cells.size(); i++) {
            if (i > 0) {
                sb.append("  ");
            }
            String c = cells.get(i);
            sb.append(c).append(" ".repeat(width[i] - c.length()));
        }
        sb.append('\n');
    }

    private static String f(double v) {
        return String.format(Locale.ROOT, "%.2f", v);
    }

    private static String pct(double v) {
        return String.format(Locale.ROOT, "%.2f%%", v * 100);
    }

    /** One bdev of one sample, in iostat.py's units (512-byte sectors). */
    private record Sample(String name, long ticks, long rdSectors, long wrSectors, long dcSectors, long rdIos, long wrIos, long dcIos) {
        static final Sample ORIGIN = new Sample("", 0, 0, 0, 0, 0, 0, 0);

        Sample(JsonNode b, long ticks) {
            this(b.get("name").asText(), ticks, b.path("bytes_read").asLong() >> 9, b.path("bytes_written").asLong() >> 9,
                    b.path("bytes_unmapped").asLong() >> 9, b.path("num_read_ops").asLong(), b.path("num_write_ops").asLong(),
                    b.path("num_unmap_ops").asLong());
        }
    }
}
