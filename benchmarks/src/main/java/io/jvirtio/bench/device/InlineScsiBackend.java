package io.jvirtio.bench.device;

import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.scsi.VirtioScsiController;
import io.jvirtio.scsi.VirtioScsiOptions;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.scsi.ScsiSpec;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

import static io.jvirtio.bench.device.DeviceMemory.ALL;
import static io.jvirtio.spec.scsi.ScsiSpec.BE_INT;
import static io.jvirtio.spec.scsi.ScsiSpec.BE_LONG;
import static io.jvirtio.spec.scsi.ScsiSpec.BE_SHORT;
import static io.jvirtio.spec.scsi.VirtioScsiSpec.*;

/**
 * A virtio-scsi controller in this process with one target (0) of RAM disks (LUN 0..n-1), completing on
 * the kick (see {@link InlineBackend}). READ/WRITE(10/16), the I/O path, allocate nothing; the commands of
 * jvirtio's scan (REPORT LUNS, INQUIRY and its VPD pages, READ CAPACITY, TEST UNIT READY, ...) answer from
 * byte arrays, as setup-time code may. The event queue keeps its buffers (no hot-plug here).
 */
public final class InlineScsiBackend extends InlineBackend {
    private static final int MAX_QUEUE_SIZE = 1024;
    private static final int SEG_MAX = 126;
    private static final int MAX_SECTORS = 0xFFFF;
    private static final int CMD_PER_LUN = 128;
    /** Fixed-format sense: response code, key at 2, additional length at 7, ASC/ASCQ at 12/13. */
    private static final int SENSE_FIXED = 0x70;
    private static final int SENSE_BYTES = 18;
    private static final int ASC_INVALID_OPCODE = 0x20;
    private static final int ASC_LBA_OUT_OF_RANGE = 0x21;
    private static final int ASC_INVALID_FIELD = 0x24;
    private static final int ASC_LUN_NOT_SUPPORTED = 0x25;
    private static final int LUN_FLAT_SPACE = 0x40;
    private static final int PQ_NO_LUN = 0x7F;
    private static final int NO_SENSE = -1;

    private final Arena arena = Arena.ofShared();
    private final MemorySegment[] luns;
    private final int blockSize;
    private final long blocks;

    /**
     * @param lunCount  LUNs on target 0
     * @param lunBytes  each LUN's size, a multiple of {@code blockSize}
     * @param blockSize the logical block size
     */
    public InlineScsiBackend(int lunCount, long lunBytes, int blockSize) {
        super(VirtioFeatures.bit(VirtioFeatures.VIRTIO_RING_F_EVENT_IDX) | VirtioFeatures.bit(VirtioFeatures.VIRTIO_RING_F_INDIRECT_DESC),
                CFG_SIZE, FIXED_QUEUES + 1, MAX_QUEUE_SIZE);
        if (lunBytes <= 0 || lunBytes % blockSize != 0) {
            throw new IllegalArgumentException("LUN size " + lunBytes + " is not a positive multiple of the block size " + blockSize);
        }
        this.blockSize = blockSize;
        this.blocks = lunBytes / blockSize;
        this.luns = new MemorySegment[lunCount];
        for (int i = 0; i < lunCount; i++) {
            luns[i] = arena.allocate(lunBytes, 4096);
        }
        MemorySegment cfg = config();
        cfg.set(LE_INT, CFG_NUM_QUEUES, 1);
        cfg.set(LE_INT, CFG_SEG_MAX, SEG_MAX);
        cfg.set(LE_INT, CFG_MAX_SECTORS, MAX_SECTORS);
        cfg.set(LE_INT, CFG_CMD_PER_LUN, CMD_PER_LUN);
        cfg.set(LE_INT, CFG_EVENT_INFO_SIZE, EVENT_SIZE);
        cfg.set(LE_INT, CFG_SENSE_SIZE, DEFAULT_SENSE_SIZE);
        cfg.set(LE_INT, CFG_CDB_SIZE, DEFAULT_CDB_SIZE);
        cfg.set(LE_SHORT, CFG_MAX_TARGET, (short) 0);
        cfg.set(LE_INT, CFG_MAX_LUN, Math.max(0, lunCount - 1));
    }

    /** Attaches jvirtio's scsi driver to a new controller; closing the controller destructs it. */
    public static VirtioScsiController attach(String name, int lunCount, long lunBytes, int blockSize, long memoryBytes) {
        InlineScsiBackend backend = new InlineScsiBackend(lunCount, lunBytes, blockSize);
        MemoryDomain memory = MemoryDomain.create(name, memoryBytes, HugePagePolicy.NEVER);
        return VirtioScsiController.attach(name, backend, memory, true, VirtioScsiOptions.defaults().withHugePages(HugePagePolicy.NEVER)
                .withMemoryBytes(memoryBytes).withQueueSize(256).withScanTargets(1));
    }

    /** @return LUN {@code lun}'s bytes */
    public MemorySegment lun(int lun) {
        return luns[lun];
    }

    @Override
    protected boolean holds(int queue) {
        return queue == EVENTQ;
    }

    @Override
    protected int handle(int queue, DeviceChain chain) {
        if (chain.readableCount() < 1 || chain.readableCount() == chain.count()) {
            throw new IllegalStateException("inline scsi: queue " + queue + ": a request needs a readable header and a writable response");
        }
        if (queue == CONTROLQ) {
            // TMFs and AN requests: the first response byte after any event field is the response; TMF's is byte 0
            ALL.set(ValueLayout.JAVA_BYTE, chain.address(chain.readableCount()), (byte) VIRTIO_SCSI_S_FUNCTION_COMPLETE);
            return 1;
        }
        long req = chain.address(0);
        long resp = chain.address(chain.readableCount());
        int respLen = chain.length(chain.readableCount());
        int target = Byte.toUnsignedInt(ALL.get(ValueLayout.JAVA_BYTE, req + REQ_LUN + 1));
        int b2 = Byte.toUnsignedInt(ALL.get(ValueLayout.JAVA_BYTE, req + REQ_LUN + 2));
        int b3 = Byte.toUnsignedInt(ALL.get(ValueLayout.JAVA_BYTE, req + REQ_LUN + 3));
        int lun = (b2 & 0xC0) == LUN_FLAT_SPACE ? ((b2 & 0x3F) << 8) | b3 : (b2 == 0 ? b3 : -1);
        long cdb = req + REQ_CDB;
        int opcode = Byte.toUnsignedInt(ALL.get(ValueLayout.JAVA_BYTE, cdb));
        long dataIn = 0;
        for (int i = chain.readableCount() + 1; i < chain.count(); i++) {
            dataIn += chain.length(i);
        }
        if (target != 0) {
            return respond(resp, VIRTIO_SCSI_S_BAD_TARGET, 0, dataIn, NO_SENSE, respLen);
        }
        boolean haveLun = lun >= 0 && lun < luns.length;
        switch (opcode) {
            case ScsiSpec.READ_10, ScsiSpec.READ_16, ScsiSpec.WRITE_10, ScsiSpec.WRITE_16 -> {
                if (!haveLun) {
                    return check(resp, ASC_LUN_NOT_SUPPORTED, dataIn, respLen);
                }
                boolean ten = opcode == ScsiSpec.READ_10 || opcode == ScsiSpec.WRITE_10;
                boolean read = opcode == ScsiSpec.READ_10 || opcode == ScsiSpec.READ_16;
                long lba = ten ? Integer.toUnsignedLong(ALL.get(BE_INT, cdb + 2)) : ALL.get(BE_LONG, cdb + 2);
                long count = ten ? Short.toUnsignedInt(ALL.get(BE_SHORT, cdb + 7)) : Integer.toUnsignedLong(ALL.get(BE_INT, cdb + 10));
                if (lba < 0 || lba > blocks - count) {
                    return check(resp, ASC_LBA_OUT_OF_RANGE, dataIn, respLen);
                }
                long pos = lba * blockSize;
                long bytes = count * blockSize;
                int from = read ? chain.readableCount() + 1 : 1;
                int to = read ? chain.count() : chain.readableCount();
                for (int i = from; i < to && bytes > 0; i++) {
                    long len = Math.min(bytes, Integer.toUnsignedLong(chain.length(i)));
                    if (read) {
                        MemorySegment.copy(luns[lun], pos, ALL, chain.address(i), len);
                    } else {
                        MemorySegment.copy(ALL, chain.address(i), luns[lun], pos, len);
                    }
                    pos += len;
                    bytes -= len;
                }
                long moved = read ? Math.min(dataIn, count * blockSize) : 0;
                return respond(resp, VIRTIO_SCSI_S_OK, ScsiSpec.STATUS_GOOD, dataIn - moved, NO_SENSE, respLen) + (int) moved;
            }
            default -> {
                byte[] answer = setupCommand(opcode, cdb, lun, haveLun);
                if (answer == null) {
                    return check(resp, ASC_INVALID_OPCODE, dataIn, respLen);
                }
                if (answer.length == 1 && answer[0] == ASC_LUN_NOT_SUPPORTED) {
                    return check(resp, ASC_LUN_NOT_SUPPORTED, dataIn, respLen);
                }
                if (answer.length == 1 && answer[0] == ASC_INVALID_FIELD) {
                    return check(resp, ASC_INVALID_FIELD, dataIn, respLen);
                }
                long left = Math.min(answer.length, dataIn);
                long moved = left;
                int src = 0;
                for (int i = chain.readableCount() + 1; i < chain.count() && left > 0; i++) {
                    int n = (int) Math.min(left, chain.length(i));
                    MemorySegment.copy(answer, src, ALL, ValueLayout.JAVA_BYTE, chain.address(i), n);
                    src += n;
                    left -= n;
                }
                return respond(resp, VIRTIO_SCSI_S_OK, ScsiSpec.STATUS_GOOD, dataIn - moved, NO_SENSE, respLen) + (int) moved;
            }
        }
    }

    /** The scan's commands: their data-in, a one-byte ASC for a CHECK CONDITION, or null for an unknown opcode. */
    private byte[] setupCommand(int opcode, long cdb, int lun, boolean haveLun) {
        switch (opcode) {
            case ScsiSpec.REPORT_LUNS -> {
                byte[] d = new byte[8 + 8 * luns.length];
                MemorySegment s = MemorySegment.ofArray(d);
                s.set(BE_INT, 0, 8 * luns.length);
                for (int l = 0; l < luns.length; l++) {
                    s.set(BE_SHORT, 8 + 8L * l, (short) (l < 256 ? l : (LUN_FLAT_SPACE << 8) | l));
                }
                return d;
            }
            case ScsiSpec.INQUIRY -> {
                boolean evpd = (ALL.get(ValueLayout.JAVA_BYTE, cdb + 1) & 1) != 0;
                int page = Byte.toUnsignedInt(ALL.get(ValueLayout.JAVA_BYTE, cdb + 2));
                if (!evpd) {
                    byte[] d = new byte[96];
                    d[0] = (byte) (haveLun ? ScsiSpec.TYPE_DISK : PQ_NO_LUN);
                    d[2] = 6;
                    d[4] = 91;
                    System.arraycopy("JVIRTIO ".getBytes(StandardCharsets.US_ASCII), 0, d, 8, 8);
                    System.arraycopy("INLINE BENCH LUN".getBytes(StandardCharsets.US_ASCII), 0, d, 16, 16);
                    System.arraycopy("0001".getBytes(StandardCharsets.US_ASCII), 0, d, 32, 4);
                    return d;
                }
                if (!haveLun) {
                    return new byte[] {ASC_LUN_NOT_SUPPORTED};
                }
                return switch (page) {
                    case 0x00 -> new byte[] {0, 0, 0, 1, 0};
                    default -> new byte[] {ASC_INVALID_FIELD};
                };
            }
            default -> {
            }
        }
        if (!haveLun) {
            return new byte[] {ASC_LUN_NOT_SUPPORTED};
        }
        return switch (opcode) {
            case ScsiSpec.TEST_UNIT_READY, ScsiSpec.START_STOP_UNIT, ScsiSpec.SYNCHRONIZE_CACHE_10, ScsiSpec.SYNCHRONIZE_CACHE_16 -> new byte[0];
            case ScsiSpec.MODE_SENSE_6 -> new byte[] {3, 0, 0, 0};
            case ScsiSpec.READ_CAPACITY_10 -> {
                byte[] d = new byte[8];
                MemorySegment s = MemorySegment.ofArray(d);
                s.set(BE_INT, 0, (int) Math.min(blocks - 1, 0xFFFF_FFFFL));
                s.set(BE_INT, 4, blockSize);
                yield d;
            }
            case ScsiSpec.SERVICE_ACTION_IN_16 -> {
                byte[] d = new byte[32];
                MemorySegment s = MemorySegment.ofArray(d);
                s.set(BE_LONG, 0, blocks - 1);
                s.set(BE_INT, 8, blockSize);
                yield d;
            }
            default -> null;
        };
    }

    private static int check(long resp, int asc, long residual, int respLen) {
        return respond(resp, VIRTIO_SCSI_S_OK, ScsiSpec.STATUS_CHECK_CONDITION, residual, asc, respLen);
    }

    /** Writes the response header (with fixed ILLEGAL REQUEST sense unless {@code asc} is NO_SENSE); @return its length */
    private static int respond(long resp, int response, int status, long residual, int asc, int respLen) {
        int senseLen = asc == NO_SENSE ? 0 : SENSE_BYTES;
        ALL.set(LE_INT, resp + RESP_SENSE_LEN, senseLen);
        ALL.set(LE_INT, resp + RESP_RESIDUAL, (int) residual);
        ALL.set(ValueLayout.JAVA_BYTE, resp + RESP_STATUS, (byte) status);
        ALL.set(ValueLayout.JAVA_BYTE, resp + RESP_RESPONSE, (byte) response);
        if (asc != NO_SENSE) {
            ALL.asSlice(resp + RESP_SENSE, SENSE_BYTES).fill((byte) 0);
            ALL.set(ValueLayout.JAVA_BYTE, resp + RESP_SENSE, (byte) SENSE_FIXED);
            ALL.set(ValueLayout.JAVA_BYTE, resp + RESP_SENSE + 2, (byte) ScsiSpec.KEY_ILLEGAL_REQUEST);
            ALL.set(ValueLayout.JAVA_BYTE, resp + RESP_SENSE + 7, (byte) (SENSE_BYTES - 8));
            ALL.set(ValueLayout.JAVA_BYTE, resp + RESP_SENSE + 12, (byte) asc);
        }
        return respLen;
    }

    @Override
    public void destruct() {
        super.destruct();
        arena.close();
    }
}
