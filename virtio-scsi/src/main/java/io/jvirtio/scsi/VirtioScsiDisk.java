package io.jvirtio.scsi;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.BdevIoException;
import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.bdev.ChannelIoStatistics;
import io.jvirtio.bdev.IoStatistics;
import io.jvirtio.bdev.IoType;
import io.jvirtio.bdev.driver.BdevStatistics;
import io.jvirtio.bdev.driver.IoCounters;
import io.jvirtio.bdev.driver.BdevLimits;
import io.jvirtio.bdev.driver.IoValidator;
import io.jvirtio.core.mem.MemoryDomain;

import java.lang.foreign.MemorySegment;
import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One LUN of a {@link VirtioScsiController} as a {@link Bdev} (SPDK's {@code virtio_scsi_disk}):
 * named {@code <ctrl>t<target>} for LUN 0, as SPDK, and {@code <ctrl>t<target>l<lun>} for the other
 * LUNs. Channels are per thread; all LUN channels of one thread share that thread's request queue on
 * the controller.
 */
public final class VirtioScsiDisk implements Bdev {
    /** SPDK's product name for virtio-scsi bdevs. */
    public static final String PRODUCT_NAME = "Virtio SCSI Disk";
    /** Most data bytes in one command: far below the 2^32-byte chain limit. */
    static final long MAX_COMMAND_BYTES = 1L << 30;

    final VirtioScsiController controller;
    private final String name;
    final int target;
    final int lun;
    final int lunAddress;
    final int blockSize;
    private volatile ScsiLunInfo info;
    private final boolean readOnly;
    private final Set<IoType> ioTypes;
    private final IoValidator validator;

    // limits the I/O path uses, precomputed
    /** blocks one READ/WRITE carries at most: block limits, max_sectors, 1 GiB */
    final long maxRwBlocks;
    final boolean unmapSupported;
    final long unmapBlocksPerCmd;
    final int unmapDescriptorsPerCmd;
    final boolean writeSameSupported;
    final long writeSameBlocksPerCmd;
    /** set the UNMAP bit of WRITE SAME (16): unmapped blocks read as zeros */
    final boolean writeSameUnmap;
    /** one zeroed block in device memory, the data-out of WRITE SAME */
    final MemorySegment[] zeroBlock;

    volatile boolean removed;
    /** logged once: the LUN answers SYNCHRONIZE CACHE with INVALID COMMAND OPERATION CODE */
    volatile boolean syncCacheUnsupportedLogged;
    private String removedReason;
    /** open channels, on any thread; guarded by this */
    private final Set<VirtioScsiChannel> channels = new HashSet<>();
    /** channels of a removed disk that still had I/O in flight when it was removed; guarded by this */
    private final Set<VirtioScsiChannel> undrained = new HashSet<>();
    /** every channel's I/O counters, open and closed */
    private final BdevStatistics statistics;

    VirtioScsiDisk(VirtioScsiController controller, String name, ScsiLunInfo info, boolean readOnly, MemorySegment zeroBlock) {
        this.controller = controller;
        this.name = name;
        this.target = info.target();
        this.lun = info.lun();
        this.lunAddress = info.address();
        this.blockSize = info.blockSize();
        this.info = info;
        this.readOnly = readOnly;
        VirtioScsiConfig cfg = controller.config();
        long max = MAX_COMMAND_BYTES / blockSize;
        if (info.maxTransferBlocks() > 0) {
            max = Math.min(max, info.maxTransferBlocks());
        }
        if (cfg.maxSectors() != 0) {
            long bySectors = Integer.toUnsignedLong(cfg.maxSectors()) * 512 / blockSize;
            max = Math.min(max, Math.max(1, bySectors));
        }
        this.maxRwBlocks = Math.min(max, 0xFFFF_FFFFL);
        this.unmapSupported = info.unmapSupported();
        long unmapMax = info.hasBlockLimits() && info.maxUnmapBlocks() != 0xFFFF_FFFFL ? info.maxUnmapBlocks() : Long.MAX_VALUE;
        this.unmapBlocksPerCmd = Math.max(1, unmapMax);
        long desc = info.hasBlockLimits() ? info.maxUnmapDescriptors() : 1;
        this.unmapDescriptorsPerCmd = (int) Math.max(1, Math.min(desc, ScsiCmd.UNMAP_DESCRIPTORS_PER_CMD));
        this.writeSameSupported = info.writeSameSupported();
        long ws = info.maxWriteSameBlocks() > 0 ? info.maxWriteSameBlocks() : 0xFFFF_FFFFL;
        this.writeSameBlocksPerCmd = Math.min(ws, 0xFFFF_FFFFL);
        this.writeSameUnmap = info.lbpws() && info.lbprz();
        this.zeroBlock = new MemorySegment[] {zeroBlock.asSlice(0, blockSize)};
        EnumSet<IoType> types = EnumSet.of(IoType.READ, IoType.FLUSH, IoType.RESET);
        if (!readOnly) {
            types.add(IoType.WRITE);
            if (unmapSupported) {
                types.add(IoType.UNMAP);
            }
            if (writeSameSupported) {
                types.add(IoType.WRITE_ZEROES);
            }
        }
        this.ioTypes = Collections.unmodifiableSet(types);
        this.validator = new IoValidator(limits(controller));
        this.statistics = new BdevStatistics(name);
    }

    /**
     * The argument rules of this LUN: any iovec length (SCSI counts blocks only), the features the
     * scan found. Fixed for the disk's life, as its other limits are (a rescan replaces the disk when
     * its block size or write protection changed, and updates only its capacity otherwise).
     */
    private BdevLimits limits(VirtioScsiController controller) {
        Map<IoType, String> unsupported = new EnumMap<>(IoType.class);
        if (!unmapSupported) {
            unsupported.put(IoType.UNMAP, "UNMAP is not supported (VPD 0xB2 LBPU not set, or block limits allow none)");
        }
        if (!writeSameSupported) {
            unsupported.put(IoType.WRITE_ZEROES, "write-zeroes is not supported (VPD 0xB2 LBPWS not set: WRITE SAME (16) is not offered)");
        }
        MemoryDomain memory = controller.memory();
        return new BdevLimits(name, blockSize, 1, memory::contains, "controller", "controller " + controller.name(),
                "write-protected (MODE SENSE WP)", unsupported);
    }

    /** @return the argument checks of this LUN, shared by its channels */
    IoValidator validator() {
        return validator;
    }

    /** @return the bdev name of LUN {@code lun} of target {@code target} on controller {@code ctrl}, as SPDK names LUN 0 */
    public static String bdevName(String ctrl, int target, int lun) {
        return lun == 0 ? ctrl + "t" + target : ctrl + "t" + target + "l" + lun;
    }

    /** @return the controller */
    public VirtioScsiController controller() {
        return controller;
    }

    /** @return the target number */
    public int target() {
        return target;
    }

    /** @return the LUN number */
    public int lun() {
        return lun;
    }

    /** @return what the scan found (the block count is updated when a rescan finds the capacity changed) */
    public ScsiLunInfo info() {
        return info;
    }

    /** @return whether the LUN went (hot-unplug, or a rescan no longer found it); I/O to it is refused */
    public boolean isRemoved() {
        return removed;
    }

    @Override
    public String name() {
        return name;
    }

    @Override
    public String productName() {
        return PRODUCT_NAME;
    }

    @Override
    public int blockSize() {
        return blockSize;
    }

    @Override
    public long blockCount() {
        return info.blockCount();
    }

    /** @return whether the LUN reported write protection (MODE SENSE WP) at scan time */
    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public Set<IoType> supportedIoTypes() {
        return ioTypes;
    }

    /** @return the request queues for I/O channels: one thread per queue, whatever the number of LUNs */
    @Override
    public int maxChannels() {
        return controller.ioQueueCount();
    }

    /**
     * {@inheritDoc}
     *
     * <p>The first channel a thread opens on any LUN of the controller takes a request queue; later
     * ones on the same thread share it.
     */
    @Override
    public VirtioScsiChannel openChannel() {
        return controller.openChannel(this);
    }

    @Override
    public MemorySegment allocateBuffer(long size, long alignment) {
        return controller.memory().allocate(size, alignment);
    }

    @Override
    public void freeBuffer(MemorySegment buffer) {
        controller.memory().free(buffer);
    }

    /** @return SPDK's {@code {"virtio": {"vq_count", "vq_size", "type", "socket"}}} of the controller */
    @Override
    public Map<String, Object> driverSpecificInfo() {
        return controller.driverSpecificInfo();
    }

    // ---------------------------------------------------------------- lifecycle (controller)

    void updateBlockCount(long count) {
        info = info.withBlockCount(count);
    }

    /** {@inheritDoc} Counted per channel on completion; closed channels' counts stay in the sums. */
    @Override
    public IoStatistics ioStatistics() {
        return statistics.snapshot();
    }

    @Override
    public List<ChannelIoStatistics> channelIoStatistics() {
        return statistics.channelSnapshots();
    }

    /** @return the counters of a channel being opened on this LUN */
    IoCounters openCounters() {
        return statistics.openChannel();
    }

    synchronized void channelOpened(VirtioScsiChannel ch) {
        if (removed) {
            throw removedError("open channel", -1);
        }
        channels.add(ch);
    }

    synchronized void channelClosed(VirtioScsiChannel ch) {
        channels.remove(ch);
        undrained.remove(ch); // a closed channel has nothing in flight any more
        statistics.channelClosed(ch.counters());
    }

    /**
     * Marks the disk removed: submissions are refused from now on; each open channel reports when its
     * in-flight I/O is done ({@link #channelDrained}) or when it is closed.
     */
    synchronized void markRemoved(String reason) {
        if (removed) {
            return;
        }
        removedReason = reason;
        statistics.close();
        undrained.addAll(channels);
        removed = true;
    }

    synchronized void channelDrained(VirtioScsiChannel ch) {
        undrained.remove(ch);
    }

    /** @return whether every channel has drained (or closed) since the removal */
    synchronized boolean removalComplete() {
        return removed && undrained.isEmpty();
    }

    synchronized String removedReason() {
        return removedReason;
    }

    BdevIoException removedError(String op, long offset) {
        return new BdevIoException(Reason.CLOSED, "bdev " + name + ": " + op + (offset >= 0 ? " at offset " + offset : "")
                + " refused: the LUN was removed (" + removedReason() + ")");
    }

    @Override
    public String toString() {
        return "VirtioScsiDisk[" + name + ", target " + target + " lun " + lun + ", " + blockCount() + " x " + blockSize + " B"
                + (removed ? ", removed" : "") + "]";
    }
}
