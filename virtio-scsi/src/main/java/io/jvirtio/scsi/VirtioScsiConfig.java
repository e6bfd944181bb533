package io.jvirtio.scsi;

import io.jvirtio.spec.scsi.VirtioScsiSpec;

import io.jvirtio.core.DeviceException;
import io.jvirtio.core.TransportUnsupportedException;
import io.jvirtio.core.VirtioDevice;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.OptionalInt;

import static io.jvirtio.spec.scsi.VirtioScsiSpec.*;

/**
 * {@code struct virtio_scsi_config} as read from the device, or SPDK's defaults when the transport
 * cannot read config (SPDK's vhost-scsi target does not offer VHOST_USER_PROTOCOL_F_CONFIG).
 * Unsigned le32 fields are kept as Java ints; use {@link Integer#toUnsignedLong} where it matters.
 *
 * @param numQueues     request queues the device has (control and event queues not counted); 0 in
 *                      {@link #defaults} when neither the device nor the transport says
 * @param segMax        most data segments in one command, 0 = not reported (no limit but the ring's)
 * @param maxSectors    largest transfer of one command in 512-byte sectors, 0 = not reported
 * @param cmdPerLun     commands per LUN the device handles at once (a hint), 0 = not reported
 * @param eventInfoSize bytes of one event buffer the device fills
 * @param senseSize     bytes of sense data in every command response
 * @param cdbSize       bytes of CDB in every command request
 * @param maxChannel    highest channel (0 for virtio)
 * @param maxTarget     highest target number
 * @param maxLun        highest LUN number
 * @param fromDevice    whether these values were read from the device (false: SPDK's defaults)
 */
public record VirtioScsiConfig(int numQueues, int segMax, int maxSectors, int cmdPerLun, int eventInfoSize,
                               int senseSize, int cdbSize, int maxChannel, int maxTarget, int maxLun,
                               boolean fromDevice) {
    private static final Logger LOG = LoggerFactory.getLogger(VirtioScsiConfig.class);
    /** SPDK's {@code BDEV_VIRTIO_MAX_TARGET}: targets 0..63 are scanned when the device does not say. */
    public static final int SPDK_MAX_TARGETS = 64;
    /** The smallest cdb_size accepted: READ (16) / WRITE (16) must fit. */
    static final int MIN_CDB_SIZE = 16;
    /** The largest cdb_size / sense_size accepted from a device (larger ones are refused at attach). */
    static final int MAX_CDB_SIZE = 260;
    static final int MAX_SENSE_SIZE = 4096;
    /** Event buffers are sized event_info_size, at least the 16 bytes of struct virtio_scsi_event, at most this. */
    static final int MAX_EVENT_INFO_SIZE = 256;

    /**
     * Reads {@code struct virtio_scsi_config}, or takes SPDK's defaults when the transport cannot read
     * config ({@link TransportUnsupportedException}): a vhost-user back-end without
     * VHOST_USER_PROTOCOL_F_CONFIG (SPDK's vhost-scsi), or one that refuses GET_CONFIG.
     */
    static VirtioScsiConfig read(VirtioDevice device) {
        String name = device.name();
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cfg = arena.allocate(CFG_SIZE);
            device.readDevConfig(0, cfg);
            return parse(name, cfg);
        } catch (TransportUnsupportedException e) {
            OptionalInt transportQueues = device.backend().getMaxQueues();
            VirtioScsiConfig c = defaults(transportQueues);
            LOG.info("{}: the transport cannot read virtio_scsi_config ({}), as with SPDK's vhost-scsi: using SPDK's defaults"
                    + " (num_queues {}, sense 96, cdb 32, targets 0..{})", name, e.getMessage(),
                    transportQueues.isPresent() ? c.numQueues() + " from the transport" : "not reported", c.maxTarget());
            return c;
        }
    }

    /**
     * SPDK's defaults for a device whose config cannot be read: num_queues from the transport
     * ({@code GET_QUEUE_NUM} - 2; 0 when the transport does not report a count either), sense 96,
     * cdb 32, targets 0..63, no segment or sector limit.
     *
     * @param transportQueues the queues the transport reports (fixed ones included), or empty
     */
    public static VirtioScsiConfig defaults(OptionalInt transportQueues) {
        int requestQueues = Math.max(0, transportQueues.orElse(0) - FIXED_QUEUES);
        return new VirtioScsiConfig(requestQueues, 0, 0, 0, EVENT_SIZE, DEFAULT_SENSE_SIZE, DEFAULT_CDB_SIZE, 0,
                SPDK_MAX_TARGETS - 1, 16383, false);
    }

    /**
     * Parses a raw config (little-endian, {@link VirtioScsiSpec#CFG_SIZE} bytes) and checks it.
     *
     * @throws DeviceException naming the field and value when the device reports something jvirtio cannot use
     */
    public static VirtioScsiConfig parse(String dev, MemorySegment cfg) {
        VirtioScsiConfig c = new VirtioScsiConfig(cfg.get(LE_INT, CFG_NUM_QUEUES), cfg.get(LE_INT, CFG_SEG_MAX),
                cfg.get(LE_INT, CFG_MAX_SECTORS), cfg.get(LE_INT, CFG_CMD_PER_LUN), cfg.get(LE_INT, CFG_EVENT_INFO_SIZE),
                cfg.get(LE_INT, CFG_SENSE_SIZE), cfg.get(LE_INT, CFG_CDB_SIZE), Short.toUnsignedInt(cfg.get(LE_SHORT, CFG_MAX_CHANNEL)),
                Short.toUnsignedInt(cfg.get(LE_SHORT, CFG_MAX_TARGET)), cfg.get(LE_INT, CFG_MAX_LUN), true);
        c.validate(dev);
        return c;
    }

    /** @throws DeviceException naming the field when a value cannot be used */
    void validate(String dev) {
        if (numQueues < 1) {
            throw bad(dev, "num_queues", Integer.toUnsignedLong(numQueues), "at least 1");
        }
        if (cdbSize < MIN_CDB_SIZE || cdbSize > MAX_CDB_SIZE) {
            throw bad(dev, "cdb_size", Integer.toUnsignedLong(cdbSize), MIN_CDB_SIZE + ".." + MAX_CDB_SIZE
                    + " (READ (16) needs 16 bytes)");
        }
        if (senseSize < 0 || senseSize > MAX_SENSE_SIZE) {
            throw bad(dev, "sense_size", Integer.toUnsignedLong(senseSize), "0.." + MAX_SENSE_SIZE);
        }
        if (segMax < 0) {
            throw bad(dev, "seg_max", Integer.toUnsignedLong(segMax), "below 2^31");
        }
    }

    private static DeviceException bad(String dev, String field, long value, String expected) {
        return new DeviceException(dev + ": virtio_scsi_config." + field + " = " + value + ", expected " + expected);
    }

    /** @return the bytes of one event buffer: event_info_size, at least 16, at most 256 */
    public int eventBufferSize() {
        return Math.clamp(Integer.toUnsignedLong(eventInfoSize), EVENT_SIZE, MAX_EVENT_INFO_SIZE);
    }

    /** @return the number of targets to scan: 0..max_target, at most 256 */
    public int targetCount() {
        return Math.min(maxTarget, 255) + 1;
    }

    /** @return bytes of a command request header: 19 + cdb_size */
    public int requestBytes() {
        return REQ_HEADER_FIXED + cdbSize;
    }

    /** @return bytes of a command response header: 12 + sense_size */
    public int responseBytes() {
        return RESP_HEADER_FIXED + senseSize;
    }
}
