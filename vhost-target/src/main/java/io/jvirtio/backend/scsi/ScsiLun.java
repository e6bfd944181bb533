package io.jvirtio.backend.scsi;

import io.jvirtio.backend.store.BlockStore;

import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One logical unit: its storage, geometry and identity (immutable), plus its run-time state (ready or
 * stopped, a pending unit attention). Build with {@link #builder(BlockStore)};
 * attach with {@link VirtioScsiModel#addLun}. A LUN can be attached once.
 */
public final class ScsiLun {
    private final BlockStore store;
    private final int blockSize;
    private final int physicalBlockSize;
    private final long blockCount;
    private final boolean readOnly;
    private final boolean thinProvisioning;
    private final boolean writeCache;
    private final String vendor;
    private final String product;
    private final String revision;
    private final long maxTransferBlocks;
    private final long maxUnmapBlocks;
    private final int maxUnmapDescriptors;
    private final long maxWriteSameBlocks;

    private volatile String serial;
    private volatile int target = -1;
    private volatile int lun = -1;
    private volatile boolean attached;
    private volatile boolean stopped;
    private final AtomicReference<SenseCode> unitAttention = new AtomicReference<>();

    private ScsiLun(Builder b) {
        this.store = b.store;
        this.blockSize = b.blockSize;
        this.physicalBlockSize = b.physicalBlockSize == 0 ? b.blockSize : b.physicalBlockSize;
        this.blockCount = b.store.sizeBytes() / b.blockSize;
        this.readOnly = b.readOnly || b.store.readOnly();
        this.thinProvisioning = b.thinProvisioning;
        this.writeCache = b.writeCache;
        this.vendor = b.vendor;
        this.product = b.product;
        this.revision = b.revision;
        this.serial = b.serial;
        this.maxTransferBlocks = Math.max(1, b.maxTransferBytes / b.blockSize);
        this.maxUnmapBlocks = b.maxUnmapBlocks;
        this.maxUnmapDescriptors = b.maxUnmapDescriptors;
        this.maxWriteSameBlocks = b.maxWriteSameBlocks;
        this.stopped = b.startsStopped;
        if (physicalBlockSize < blockSize || Integer.bitCount(physicalBlockSize) != 1
                || Integer.numberOfTrailingZeros(physicalBlockSize / blockSize) > 15) {
            throw new IllegalArgumentException("physical block size " + physicalBlockSize
                    + " must be a power of two, at least the block size " + blockSize);
        }
        if (blockCount < 1) {
            throw new IllegalArgumentException("store of " + store.sizeBytes() + " bytes holds no block of " + blockSize);
        }
    }

    /** @return a builder for a LUN over {@code store} (512-byte blocks, writable unless the store is read-only) */
    public static Builder builder(BlockStore store) {
        return new Builder(store);
    }

    public BlockStore store() {
        return store;
    }

    public int blockSize() {
        return blockSize;
    }

    public int physicalBlockSize() {
        return physicalBlockSize;
    }

    /** @return log2(physical block size / logical block size), as READ CAPACITY (16) reports it */
    public int physicalBlockExponent() {
        return Integer.numberOfTrailingZeros(physicalBlockSize / blockSize);
    }

    public long blockCount() {
        return blockCount;
    }

    public boolean readOnly() {
        return readOnly;
    }

    /** @return whether UNMAP and WRITE SAME with the UNMAP bit are supported (LBPME, LBPU, LBPWS) */
    public boolean thinProvisioning() {
        return thinProvisioning;
    }

    /** @return whether the caching mode page reports a volatile write cache (WCE), so initiators send SYNCHRONIZE CACHE */
    public boolean writeCache() {
        return writeCache;
    }

    public String vendor() {
        return vendor;
    }

    public String product() {
        return product;
    }

    public String revision() {
        return revision;
    }

    /** @return the unit serial number (VPD 0x80); defaulted when attached if none was given */
    public String serial() {
        return serial;
    }

    public long maxTransferBlocks() {
        return maxTransferBlocks;
    }

    public long maxUnmapBlocks() {
        return maxUnmapBlocks;
    }

    public int maxUnmapDescriptors() {
        return maxUnmapDescriptors;
    }

    public long maxWriteSameBlocks() {
        return maxWriteSameBlocks;
    }

    /** @return the target this LUN is attached to, -1 before */
    public int target() {
        return target;
    }

    /** @return the LUN number it is attached as, -1 before */
    public int lun() {
        return lun;
    }

    /** @return whether the LUN is attached (detached LUNs finish what they run but take no new command) */
    public boolean attached() {
        return attached;
    }

    /** @return whether the LUN answers NOT READY until a START STOP UNIT with START */
    public boolean stopped() {
        return stopped;
    }

    /** @return the NAA locally-assigned identifier (VPD 0x83), derived from the identity strings */
    public long naaIdentifier() {
        long h = 1125899906842597L;
        for (byte c : (vendor + "|" + product + "|" + serial).getBytes(StandardCharsets.US_ASCII)) {
            h = 31 * h + c;
        }
        return (3L << 60) | (h & 0x0FFF_FFFF_FFFF_FFFFL);
    }

    synchronized void attach(int target, int lun, String defaultSerial) {
        if (this.target >= 0) {
            throw new IllegalStateException("LUN already attached as target " + this.target + " lun " + this.lun);
        }
        this.target = target;
        this.lun = lun;
        if (serial == null) {
            serial = defaultSerial;
        }
        attached = true;
    }

    void detach() {
        attached = false;
    }

    void setStopped(boolean stopped) {
        this.stopped = stopped;
    }

    /** Establishes a unit attention condition, reported once by the next command that reports them. */
    void raiseUnitAttention(SenseCode sense) {
        unitAttention.set(sense);
    }

    /** @return and clears the pending unit attention, or null */
    SenseCode takeUnitAttention() {
        // read first: an atomic exchange on every command would move the LUN's cache line between the queue threads
        return unitAttention.get() == null ? null : unitAttention.getAndSet(null);
    }

    /** Clears the pending unit attention if it is {@code sense}. */
    void clearUnitAttention(SenseCode sense) {
        unitAttention.updateAndGet(pending -> sense.equals(pending) ? null : pending);
    }

    SenseCode pendingUnitAttention() {
        return unitAttention.get();
    }

    @Override
    public String toString() {
        return "LUN " + target + ":" + lun + " (" + blockCount + " x " + blockSize + (readOnly ? ", ro" : "")
                + (thinProvisioning ? ", unmap" : "") + ")";
    }

    /** Configures a {@link ScsiLun}. */
    public static final class Builder {
        private final BlockStore store;
        private int blockSize = 512;
        private int physicalBlockSize;
        private boolean readOnly;
        private boolean thinProvisioning = true;
        private boolean writeCache = true;
        private String vendor = "JVIRTIO";
        private String product = "Virtio SCSI Disk";
        private String revision = "0001";
        private String serial;
        private long maxTransferBytes = 4L << 20;
        private long maxUnmapBlocks = 1L << 22;
        private int maxUnmapDescriptors = 256;
        private long maxWriteSameBlocks = 1L << 16;
        private boolean startsStopped;

        private Builder(BlockStore store) {
            this.store = Objects.requireNonNull(store, "store");
        }

        /** Logical block size: a power of two from 512 to 65536 (512 and 4096 are the usual ones). */
        public Builder blockSize(int bytes) {
            if (bytes < 512 || bytes > 65536 || Integer.bitCount(bytes) != 1) {
                throw new IllegalArgumentException("block size " + bytes + " is not a power of two from 512 to 65536");
            }
            this.blockSize = bytes;
            return this;
        }

        /** Physical block size (READ CAPACITY (16) exponent, optimal granularity); defaults to the block size. */
        public Builder physicalBlockSize(int bytes) {
            this.physicalBlockSize = bytes;
            return this;
        }

        public Builder readOnly(boolean readOnly) {
            this.readOnly = readOnly;
            return this;
        }

        /** UNMAP / WRITE SAME with UNMAP, VPD 0xB2, LBPME (default on). */
        public Builder thinProvisioning(boolean on) {
            this.thinProvisioning = on;
            return this;
        }

        /** Report a volatile write cache (WCE, default on). */
        public Builder writeCache(boolean on) {
            this.writeCache = on;
            return this;
        }

        public Builder vendor(String vendor) {
            this.vendor = ascii(vendor, 8, "vendor");
            return this;
        }

        public Builder product(String product) {
            this.product = ascii(product, 16, "product");
            return this;
        }

        public Builder revision(String revision) {
            this.revision = ascii(revision, 4, "revision");
            return this;
        }

        public Builder serial(String serial) {
            this.serial = ascii(serial, 64, "serial");
            return this;
        }

        /** MAXIMUM TRANSFER LENGTH of VPD 0xB0, in bytes (default 4 MiB); longer READ/WRITEs are refused. */
        public Builder maxTransferBytes(long bytes) {
            this.maxTransferBytes = positive(bytes, "max transfer bytes");
            return this;
        }

        /** MAXIMUM UNMAP LBA COUNT of VPD 0xB0 (default 4 Mi blocks). */
        public Builder maxUnmapBlocks(long blocks) {
            this.maxUnmapBlocks = Math.min(positive(blocks, "max unmap blocks"), 0xFFFF_FFFFL);
            return this;
        }

        /** MAXIMUM UNMAP BLOCK DESCRIPTOR COUNT of VPD 0xB0 (default 256). */
        public Builder maxUnmapDescriptors(int count) {
            this.maxUnmapDescriptors = (int) Math.min(positive(count, "max unmap descriptors"), (65535 - 8) / 16);
            return this;
        }

        /** MAXIMUM WRITE SAME LENGTH of VPD 0xB0 (default 64 Ki blocks). */
        public Builder maxWriteSameBlocks(long blocks) {
            this.maxWriteSameBlocks = positive(blocks, "max write same blocks");
            return this;
        }

        /** Start NOT READY, INITIALIZING COMMAND REQUIRED, until a START STOP UNIT with START. */
        public Builder startsStopped(boolean stopped) {
            this.startsStopped = stopped;
            return this;
        }

        public ScsiLun build() {
            return new ScsiLun(this);
        }

        private static long positive(long v, String what) {
            if (v <= 0) {
                throw new IllegalArgumentException(what + " " + v + " must be positive");
            }
            return v;
        }

        private static String ascii(String s, int max, String what) {
            Objects.requireNonNull(s, what);
            if (s.isEmpty() || s.length() > max || !s.chars().allMatch(c -> c >= 0x20 && c < 0x7F)) {
                throw new IllegalArgumentException(what + " '" + s + "' must be 1.." + max + " printable ASCII characters");
            }
            return s;
        }
    }
}
