package io.jvirtio.config;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.bdev.ChannelIoStatistics;
import io.jvirtio.bdev.IoStatistics;
import io.jvirtio.bdev.OpStatistics;
import io.jvirtio.scsi.VirtioScsiDisk;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code bdev_get_iostat} output, field by field and in order as SPDK writes it
 * ({@code spdk_bdev_dump_io_stat_json}): {@code tick_rate}, {@code ticks}, then per bdev
 * {@code name}, {@code bytes_read}, {@code num_read_ops}, {@code bytes_written},
 * {@code num_write_ops}, {@code bytes_unmapped}, {@code num_unmap_ops}, {@code bytes_copied},
 * {@code num_copy_ops} (always 0: virtio has no copy), the total, max and min latency ticks of read,
 * write, unmap and copy, and {@code io_error}: failed I/Os by SPDK's status name, only those that
 * occurred, in SPDK's order. Ticks are nanoseconds ({@code tick_rate} 1000000000).
 *
 * <p>How a {@link Reason} maps to SPDK's {@code spdk_bdev_io_status}: a device's error status is
 * {@code scsi_error} on a virtio-scsi LUN (SPDK completes it with the SCSI status and sense) and
 * {@code failed} on virtio-blk; an I/O ended because its channel, LUN or device went away or timed
 * out is {@code aborted}; no request queue is {@code nomem}; everything else is {@code failed}.
 */
public final class IostatJson {
    /** SPDK's {@code io_error} keys in the order it writes them (status -1 down to -8). */
    public static final List<String> SPDK_ERROR_STATUSES = List.of("failed", "nvme_error", "scsi_error", "nomem", "miscompare",
            "first_fused_failed", "aborted", "aio_error");

    private static final JsonNodeFactory F = JsonNodeFactory.instance;

    private IostatJson() {
    }

    /** @return {@code bdev_get_iostat} for every bdev of {@code registry}, in attach order */
    public static ObjectNode bdevGetIostat(BdevRegistry registry) {
        return bdevGetIostat(registry.bdevs());
    }

    /** @return {@code bdev_get_iostat} for {@code bdevs} */
    public static ObjectNode bdevGetIostat(List<Bdev> bdevs) {
        ObjectNode o = header(System.nanoTime());
        ArrayNode arr = o.putArray("bdevs");
        for (Bdev b : bdevs) {
            ObjectNode e = arr.addObject();
            e.put("name", b.name());
            writeStat(e, b.ioStatistics(), b instanceof VirtioScsiDisk);
        }
        return o;
    }

    /**
     * @return {@code bdev_get_iostat} with {@code per_channel}: {@code tick_rate}, {@code ticks},
     *         {@code name} and {@code channels}, each {@code {"thread_id": ..., <the counters>}}
     */
    public static ObjectNode perChannel(Bdev bdev) {
        ObjectNode o = header(System.nanoTime());
        o.put("name", bdev.name());
        ArrayNode arr = o.putArray("channels");
        for (ChannelIoStatistics c : bdev.channelIoStatistics()) {
            ObjectNode e = arr.addObject();
            e.put("thread_id", c.threadId());
            writeStat(e, c.statistics(), bdev instanceof VirtioScsiDisk);
        }
        return o;
    }

    private static ObjectNode header(long ticks) {
        ObjectNode o = F.objectNode();
        o.put("tick_rate", IoStatistics.TICK_RATE);
        o.put("ticks", ticks);
        return o;
    }

    /** Writes SPDK's counters of {@code s} into {@code o}, in SPDK's order. */
    public static void writeStat(ObjectNode o, IoStatistics s, boolean scsi) {
        OpStatistics r = s.read();
        OpStatistics w = s.write();
        OpStatistics u = s.unmap();
        OpStatistics c = OpStatistics.NONE; // no copy in virtio
        o.put("bytes_read", r.bytes());
        o.put("num_read_ops", r.ops());
        o.put("bytes_written", w.bytes());
        o.put("num_write_ops", w.ops());
        o.put("bytes_unmapped", u.bytes());
        o.put("num_unmap_ops", u.ops());
        o.put("bytes_copied", c.bytes());
        o.put("num_copy_ops", c.ops());
        latency(o, "read", r);
        latency(o, "write", w);
        latency(o, "unmap", u);
        latency(o, "copy", c);
        ObjectNode err = o.putObject("io_error");
        errorStatuses(s, scsi).forEach(err::put);
    }

    private static void latency(ObjectNode o, String type, OpStatistics s) {
        o.put(type + "_latency_ticks", s.latencyTicks());
        o.put("max_" + type + "_latency_ticks", s.maxLatencyTicks());
        o.put("min_" + type + "_latency_ticks", s.minLatencyTicks());
    }

    /** @return failed I/Os by SPDK status name, in SPDK's order, only those non-zero */
    public static Map<String, Long> errorStatuses(IoStatistics s, boolean scsi) {
        Map<String, Long> byStatus = new LinkedHashMap<>();
        for (String k : SPDK_ERROR_STATUSES) {
            byStatus.put(k, 0L);
        }
        s.errors().forEach((reason, n) -> byStatus.merge(spdkStatus(reason, scsi), n, Long::sum));
        byStatus.values().removeIf(n -> n == 0);
        return byStatus;
    }

    /** @return the SPDK {@code io_error} key an I/O failed for {@code reason} is counted under */
    public static String spdkStatus(Reason reason, boolean scsi) {
        return switch (reason) {
            case DEVICE_STATUS -> scsi ? "scsi_error" : "failed";
            case CLOSED, TIMED_OUT -> "aborted";
            case RESOURCES_EXHAUSTED -> "nomem";
            default -> "failed";
        };
    }
}
