package io.jvirtio.bench.device;

import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.spec.VirtioFeatures;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static io.jvirtio.bench.device.DeviceMemory.ALL;
import static io.jvirtio.spec.blk.VirtioBlkSpec.*;

/**
 * A RAM virtio-blk device in this process, completing on the kick (see {@link InlineBackend}): IN, OUT,
 * FLUSH and GET_ID, copying between the disk and the driver's buffers by address. Nothing is allocated
 * per request. One request queue.
 */
public final class InlineBlkBackend extends InlineBackend {
    /** The serial GET_ID answers. */
    public static final String SERIAL = "jvirtio-bench";
    private static final int SEG_MAX = 126;
    private static final int MAX_QUEUE_SIZE = 1024;

    private final Arena arena = Arena.ofShared();
    private final MemorySegment disk;
    private final long capacityBytes;

    /** @param capacityBytes the disk size, a multiple of 512 */
    public InlineBlkBackend(long capacityBytes) {
        super(VirtioFeatures.bit(VirtioFeatures.VIRTIO_RING_F_EVENT_IDX) | VirtioFeatures.bit(VirtioFeatures.VIRTIO_RING_F_INDIRECT_DESC)
                | VirtioFeatures.bit(VIRTIO_BLK_F_FLUSH) | VirtioFeatures.bit(VIRTIO_BLK_F_BLK_SIZE) | VirtioFeatures.bit(VIRTIO_BLK_F_SEG_MAX),
                CFG_SIZE, 1, MAX_QUEUE_SIZE);
        if (capacityBytes <= 0 || capacityBytes % SECTOR_SIZE != 0) {
            throw new IllegalArgumentException("capacity " + capacityBytes + " is not a positive multiple of " + SECTOR_SIZE);
        }
        this.capacityBytes = capacityBytes;
        this.disk = arena.allocate(capacityBytes, 4096);
        config().set(LE_LONG, CFG_CAPACITY, capacityBytes >>> SECTOR_SHIFT);
        config().set(LE_INT, CFG_SEG_MAX, SEG_MAX);
        config().set(LE_INT, CFG_BLK_SIZE, SECTOR_SIZE);
    }

    /**
     * Attaches jvirtio's blk driver to a new device of {@code capacityBytes}; closing the bdev destructs it.
     *
     * @param memoryBytes the driver's device-visible memory
     */
    public static VirtioBlkDevice attach(String name, long capacityBytes, long memoryBytes) {
        InlineBlkBackend backend = new InlineBlkBackend(capacityBytes);
        MemoryDomain memory = MemoryDomain.create(name, memoryBytes, HugePagePolicy.NEVER);
        return VirtioBlkDevice.attach(name, backend, memory, true,
                VirtioBlkOptions.defaults().withHugePages(HugePagePolicy.NEVER).withMemoryBytes(memoryBytes).withQueueSize(256));
    }

    /** @return the disk's bytes */
    public MemorySegment disk() {
        return disk;
    }

    @Override
    protected int handle(int queue, DeviceChain chain) {
        int n = chain.count();
        if (n < 2 || chain.readableCount() < 1 || chain.length(0) != REQ_HEADER_SIZE || chain.readableCount() == n
                || chain.length(n - 1) != 1) {
            throw new IllegalStateException("inline blk: a request is a 16-byte header, data, a 1-byte status; got " + n
                    + " buffers, " + chain.readableCount() + " readable");
        }
        long header = chain.address(0);
        int type = ALL.get(LE_INT, header + REQ_TYPE);
        long sector = ALL.get(LE_LONG, header + REQ_SECTOR);
        int written = 0;
        int status;
        switch (type) {
            case VIRTIO_BLK_T_IN -> {
                status = copy(chain, chain.readableCount(), n - 1, sector, true);
                if (status == VIRTIO_BLK_S_OK) {
                    for (int i = chain.readableCount(); i < n - 1; i++) {
                        written += chain.length(i);
                    }
                }
            }
            case VIRTIO_BLK_T_OUT -> status = copy(chain, 1, chain.readableCount(), sector, false);
            case VIRTIO_BLK_T_FLUSH -> status = VIRTIO_BLK_S_OK;
            case VIRTIO_BLK_T_GET_ID -> {
                long id = chain.address(chain.readableCount());
                ALL.asSlice(id, VIRTIO_BLK_ID_BYTES).fill((byte) 0);
                byte[] s = SERIAL.getBytes(java.nio.charset.StandardCharsets.US_ASCII);
                MemorySegment.copy(s, 0, ALL, ValueLayout.JAVA_BYTE, id, s.length);
                written = VIRTIO_BLK_ID_BYTES;
                status = VIRTIO_BLK_S_OK;
            }
            default -> status = VIRTIO_BLK_S_UNSUPP;
        }
        ALL.set(ValueLayout.JAVA_BYTE, chain.address(n - 1), (byte) status);
        return written + 1;
    }

    private int copy(DeviceChain chain, int from, int to, long sector, boolean toDriver) {
        long pos = sector << SECTOR_SHIFT;
        long total = 0;
        for (int i = from; i < to; i++) {
            total += Integer.toUnsignedLong(chain.length(i));
        }
        if (sector < 0 || total % SECTOR_SIZE != 0 || pos > capacityBytes - total) {
            return VIRTIO_BLK_S_IOERR;
        }
        for (int i = from; i < to; i++) {
            long len = Integer.toUnsignedLong(chain.length(i));
            if (toDriver) {
                MemorySegment.copy(disk, pos, ALL, chain.address(i), len);
            } else {
                MemorySegment.copy(ALL, chain.address(i), disk, pos, len);
            }
            pos += len;
        }
        return VIRTIO_BLK_S_OK;
    }

    @Override
    public void destruct() {
        super.destruct();
        arena.close();
    }
}
