package io.jvirtio.backend.scsi;

import io.jvirtio.spec.scsi.VirtioScsiSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * struct virtio_scsi_config (virtio spec 5.6.4), little-endian: num_queues@0, seg_max@4,
 * max_sectors@8, cmd_per_lun@12, event_info_size@16, sense_size@20, cdb_size@24, max_channel@28 (16),
 * max_target@30 (16), max_lun@32. Only sense_size and cdb_size are writable; reset restores 96 and 32.
 */
final class ScsiConfigSpace {
    private static final Logger LOG = LoggerFactory.getLogger(ScsiConfigSpace.class);

    /** Largest sense_size or cdb_size a driver may set; larger writes are refused (the old value stays). */
    static final int MAX_WRITABLE = 65535;

    private final String name;
    private final byte[] image = new byte[VirtioScsiSpec.CFG_SIZE];
    private final MemorySegment seg = MemorySegment.ofArray(image);
    private volatile int senseSize;
    private volatile int cdbSize;

    ScsiConfigSpace(String name, ScsiModelOptions c) {
        this.name = name;
        seg.set(VirtioScsiSpec.LE_INT, VirtioScsiSpec.CFG_NUM_QUEUES, c.requestQueues());
        seg.set(VirtioScsiSpec.LE_INT, VirtioScsiSpec.CFG_SEG_MAX, c.segMax());
        seg.set(VirtioScsiSpec.LE_INT, VirtioScsiSpec.CFG_MAX_SECTORS, c.maxSectors());
        seg.set(VirtioScsiSpec.LE_INT, VirtioScsiSpec.CFG_CMD_PER_LUN, c.cmdPerLun());
        seg.set(VirtioScsiSpec.LE_INT, VirtioScsiSpec.CFG_EVENT_INFO_SIZE, VirtioScsiSpec.EVENT_SIZE);
        seg.set(VirtioScsiSpec.LE_SHORT, VirtioScsiSpec.CFG_MAX_CHANNEL, (short) 0);
        seg.set(VirtioScsiSpec.LE_SHORT, VirtioScsiSpec.CFG_MAX_TARGET, (short) c.maxTarget());
        seg.set(VirtioScsiSpec.LE_INT, VirtioScsiSpec.CFG_MAX_LUN, c.maxLun());
        reset();
    }

    synchronized void reset() {
        seg.set(VirtioScsiSpec.LE_INT, VirtioScsiSpec.CFG_SENSE_SIZE, VirtioScsiSpec.DEFAULT_SENSE_SIZE);
        seg.set(VirtioScsiSpec.LE_INT, VirtioScsiSpec.CFG_CDB_SIZE, VirtioScsiSpec.DEFAULT_CDB_SIZE);
        senseSize = VirtioScsiSpec.DEFAULT_SENSE_SIZE;
        cdbSize = VirtioScsiSpec.DEFAULT_CDB_SIZE;
    }

    synchronized void read(int offset, MemorySegment dst) {
        MemorySegment.copy(seg, offset, dst, 0, dst.byteSize());
    }

    /** Applies the bytes of {@code src} that fall on sense_size or cdb_size; the others are read-only and ignored. */
    synchronized void write(int offset, MemorySegment src) {
        byte[] before = image.clone();
        boolean ignored = false;
        for (int i = 0; i < src.byteSize(); i++) {
            int at = offset + i;
            if (at >= VirtioScsiSpec.CFG_SENSE_SIZE && at < VirtioScsiSpec.CFG_CDB_SIZE + 4) {
                image[at] = src.get(ValueLayout.JAVA_BYTE, i);
            } else {
                ignored = true;
            }
        }
        if (ignored) {
            LOG.warn("{}: driver wrote read-only config bytes at offset {} (+{}): ignored", name, offset, src.byteSize());
        }
        int sense = seg.get(VirtioScsiSpec.LE_INT, VirtioScsiSpec.CFG_SENSE_SIZE);
        int cdb = seg.get(VirtioScsiSpec.LE_INT, VirtioScsiSpec.CFG_CDB_SIZE);
        if (sense < 0 || sense > MAX_WRITABLE || cdb < 0 || cdb > MAX_WRITABLE) {
            LOG.warn("{}: driver set sense_size {} / cdb_size {}: refused, keeping {} / {}", name,
                    Integer.toUnsignedString(sense), Integer.toUnsignedString(cdb), senseSize, cdbSize);
            System.arraycopy(before, 0, image, 0, VirtioScsiSpec.CFG_SIZE);
            return;
        }
        senseSize = sense;
        cdbSize = cdb;
    }

    int senseSize() {
        return senseSize;
    }

    int cdbSize() {
        return cdbSize;
    }
}
