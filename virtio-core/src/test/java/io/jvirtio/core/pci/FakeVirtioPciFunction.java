package io.jvirtio.core.pci;

import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.VirtioStatus;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.LongPredicate;

import static io.jvirtio.spec.pci.VirtioPciSpec.*;

/**
 * A register-file virtio PCI function: the config space of a captured QEMU 7.2 function (or a
 * mutated copy) and a BAR 4 laid out as QEMU lays it out (common cfg at 0, ISR at 0x1000, device
 * cfg at 0x2000, notify at 0x3000 with multiplier 4), modelling the common configuration per virtio
 * 1.2 4.1.4.3: feature selects, FEATURES_OK acceptance, reset, queue registers. Every BAR access is
 * recorded with its width and offset; a common-cfg access with the wrong width fails the test.
 *
 * <p>Public (test-jar) so other modules can put a device model behind it: {@link #onStatus},
 * {@link #onReset} and {@link #onNotify} are where a device side runs; the queue registers tell it
 * where the driver put its rings. BAR accesses are serialized on the function; the hooks run under that lock.
 */
public final class FakeVirtioPciFunction implements PciFunction {
    /** BAR 4 offset of the common configuration. */
    public static final long COMMON = 0x0;
    /** BAR 4 offset of the ISR byte. */
    public static final long ISR = 0x1000;
    /** BAR 4 offset of the device configuration. */
    public static final long DEVICE = 0x2000;
    /** BAR 4 offset of the notify structure. */
    public static final long NOTIFY = 0x3000;
    /** QEMU's notify_off_multiplier. */
    public static final int NOTIFY_MULTIPLIER = 4;
    /** QEMU's BAR 4 size. */
    public static final int BAR4_SIZE = 0x4000;
    /** Most queues the model has registers for. */
    public static final int MAX_QUEUES = 16;
    /** What QEMU 7.2's virtio-blk-pci with iommu_platform=on offers (vfio-plan §3.7). */
    public static final long QEMU_BLK_FEATURES = 0x10330006e54L;

    /** One BAR access. */
    record Access(boolean write, int bar, long offset, int width, long value) {
        @Override
        public String toString() {
            return (write ? "W" : "R") + width * 8 + " bar" + bar + "+0x" + Long.toHexString(offset) + "=0x" + Long.toHexString(value);
        }
    }

    private final PciAddress address;
    final byte[] config;
    private final Map<Integer, FakeBar> bars = new HashMap<>();
    final List<Access> accesses = new ArrayList<>();
    public int closes;

    // ---- device model
    public long offeredFeatures = QEMU_BLK_FEATURES;
    /** decides FEATURES_OK; default: only offered bits, VERSION_1 set, ACCESS_PLATFORM taken when offered (QEMU) */
    public LongPredicate acceptFeatures = f -> (f & ~offeredFeatures) == 0 && VirtioFeatures.has(f, VirtioFeatures.VIRTIO_F_VERSION_1)
            && (!VirtioFeatures.has(offeredFeatures, VirtioFeatures.VIRTIO_F_ACCESS_PLATFORM)
                || VirtioFeatures.has(f, VirtioFeatures.VIRTIO_F_ACCESS_PLATFORM));
    public int numQueues = 1;
    public int[] maxQueueSize = filled(256);
    public int[] notifyOff = identity();
    /** status reads that still return the old value after a reset is written; -1 forever */
    int resetDelayReads;
    /** device-config reads that bump config_generation first; -1 forever */
    int bumpGenerationOnReads;
    public final byte[] deviceConfig = new byte[0x1000];
    final List<long[]> notifies = new ArrayList<>(); // {offset, value}
    /** told the value of each notify (the queue index), after it was recorded: a device model runs here */
    public java.util.function.IntConsumer onNotify = q -> { };
    /** told each status the device took (after its FEATURES_OK decision), not resets */
    public java.util.function.IntConsumer onStatus = st -> { };
    /** told each device reset */
    public Runnable onReset = () -> { };

    public int status;
    private int pendingResetReads;
    private int statusBeforeReset;
    int generation;
    int dfSelect;
    int gfSelect;
    public long driverFeatures;
    int configMsix = VIRTIO_MSI_NO_VECTOR;
    int queueSelect;
    public final int[] queueSize = new int[MAX_QUEUES];
    final int[] queueMsix = new int[MAX_QUEUES];
    public final int[] queueEnable = new int[MAX_QUEUES];
    public final long[] queueDesc = new long[MAX_QUEUES];
    public final long[] queueAvail = new long[MAX_QUEUES];
    public final long[] queueUsed = new long[MAX_QUEUES];
    public int queueEnableZeroWrites;
    int resets;

    private FakeVirtioPciFunction(PciAddress address, byte[] config) {
        this.address = address;
        this.config = config;
        bars.put(1, new FakeBar(1, 0x1000));
        bars.put(4, new FakeBar(4, BAR4_SIZE));
        doReset();
    }

    /** @param bdf e.g. {@code "0000:00:05.0"}: loads {@code config-0000-00-05.0.bin} */
    public static FakeVirtioPciFunction fixture(String bdf) {
        return new FakeVirtioPciFunction(PciAddress.parse(bdf), load(bdf));
    }

    static byte[] load(String bdf) {
        String name = "config-" + bdf.replace(':', '-') + ".bin";
        try (InputStream in = FakeVirtioPciFunction.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalArgumentException("no fixture " + name);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Replaces BAR {@code index} (null removes it). */
    void bar(int index, Integer size) {
        if (size == null) {
            bars.remove(index);
        } else {
            bars.put(index, new FakeBar(index, size));
        }
    }

    void setConfig8(int offset, int value) {
        config[offset] = (byte) value;
    }

    void setConfig32(int offset, int value) {
        ByteBuffer.wrap(config).order(ByteOrder.LITTLE_ENDIAN).putInt(offset, value);
    }

    /** @return the common-cfg/device/notify accesses only, without the ones before {@code from} */
    List<Access> accessesSince(int from) {
        return List.copyOf(accesses.subList(from, accesses.size()));
    }

    List<Access> deviceConfigAccesses(int from) {
        return accessesSince(from).stream().filter(a -> a.bar == 4 && a.offset >= DEVICE && a.offset < NOTIFY)
                .map(a -> new Access(a.write, a.bar, a.offset - DEVICE, a.width, a.value)).toList();
    }

    long countWrites(long commonOffset) {
        return accesses.stream().filter(a -> a.write && a.bar == 4 && a.offset == COMMON + commonOffset).count();
    }

    long countReads(long commonOffset) {
        return accesses.stream().filter(a -> !a.write && a.bar == 4 && a.offset == COMMON + commonOffset).count();
    }

    // ---------------------------------------------------------------- PciFunction

    @Override public PciAddress address() { return address; }
    @Override public int configSize() { return config.length; }
    @Override public int readConfig8(int offset) { check(offset, 1); return config[offset] & 0xff; }
    @Override public int readConfig16(int offset) { check(offset, 2); return ByteBuffer.wrap(config).order(ByteOrder.LITTLE_ENDIAN).getShort(offset) & 0xffff; }
    @Override public int readConfig32(int offset) { check(offset, 4); return ByteBuffer.wrap(config).order(ByteOrder.LITTLE_ENDIAN).getInt(offset); }
    @Override public void writeConfig16(int offset, int value) { check(offset, 2); ByteBuffer.wrap(config).order(ByteOrder.LITTLE_ENDIAN).putShort(offset, (short) value); }
    @Override public Optional<PciBar> bar(int index) { return Optional.ofNullable(bars.get(index)); }
    @Override public boolean supportsReset() { return false; }
    @Override public void reset() { throw new UnsupportedOperationException(); }
    @Override public void close() { closes++; }

    private void check(int offset, int width) {
        if (offset < 0 || offset + width > config.length) {
            throw new IndexOutOfBoundsException("config offset " + offset + " width " + width);
        }
    }

    // ---------------------------------------------------------------- device model

    private static int[] filled(int v) {
        int[] a = new int[MAX_QUEUES];
        Arrays.fill(a, v);
        return a;
    }

    private static int[] identity() {
        int[] a = new int[MAX_QUEUES];
        Arrays.setAll(a, i -> i);
        return a;
    }

    private void doReset() {
        resets++;
        if (onReset != null) {
            onReset.run();
        }
        status = 0;
        dfSelect = gfSelect = 0;
        driverFeatures = 0;
        configMsix = VIRTIO_MSI_NO_VECTOR;
        queueSelect = 0;
        for (int q = 0; q < queueSize.length; q++) {
            queueSize[q] = maxQueueSize[q];
            queueMsix[q] = VIRTIO_MSI_NO_VECTOR;
            queueEnable[q] = 0;
            queueDesc[q] = queueAvail[q] = queueUsed[q] = 0;
        }
    }

    private static int commonWidth(long off) {
        return switch ((int) off) {
            case VIRTIO_PCI_COMMON_DFSELECT, VIRTIO_PCI_COMMON_DF, VIRTIO_PCI_COMMON_GFSELECT, VIRTIO_PCI_COMMON_GF,
                 VIRTIO_PCI_COMMON_Q_DESCLO, VIRTIO_PCI_COMMON_Q_DESCHI, VIRTIO_PCI_COMMON_Q_AVAILLO, VIRTIO_PCI_COMMON_Q_AVAILHI,
                 VIRTIO_PCI_COMMON_Q_USEDLO, VIRTIO_PCI_COMMON_Q_USEDHI -> 4;
            case VIRTIO_PCI_COMMON_MSIX, VIRTIO_PCI_COMMON_NUMQ, VIRTIO_PCI_COMMON_Q_SELECT, VIRTIO_PCI_COMMON_Q_SIZE,
                 VIRTIO_PCI_COMMON_Q_MSIX, VIRTIO_PCI_COMMON_Q_ENABLE, VIRTIO_PCI_COMMON_Q_NOFF, VIRTIO_PCI_COMMON_Q_NDATA,
                 VIRTIO_PCI_COMMON_Q_RESET -> 2;
            case VIRTIO_PCI_COMMON_STATUS, VIRTIO_PCI_COMMON_CFGGENERATION -> 1;
            default -> throw new AssertionError("common cfg offset 0x" + Long.toHexString(off) + " is not a register");
        };
    }

    private boolean queueValid() {
        return queueSelect < numQueues;
    }

    private long commonRead(long off) {
        int q = queueSelect;
        return switch ((int) off) {
            case VIRTIO_PCI_COMMON_DFSELECT -> dfSelect;
            case VIRTIO_PCI_COMMON_DF -> dfSelect < 2 ? (offeredFeatures >>> (32 * dfSelect)) & 0xffffffffL : 0;
            case VIRTIO_PCI_COMMON_GFSELECT -> gfSelect;
            case VIRTIO_PCI_COMMON_GF -> gfSelect < 2 ? (driverFeatures >>> (32 * gfSelect)) & 0xffffffffL : 0;
            case VIRTIO_PCI_COMMON_MSIX -> configMsix;
            case VIRTIO_PCI_COMMON_NUMQ -> numQueues;
            case VIRTIO_PCI_COMMON_STATUS -> {
                if (pendingResetReads != 0) {
                    if (pendingResetReads > 0) {
                        pendingResetReads--;
                    }
                    yield statusBeforeReset;
                }
                yield status;
            }
            case VIRTIO_PCI_COMMON_CFGGENERATION -> generation & 0xff;
            case VIRTIO_PCI_COMMON_Q_SELECT -> queueSelect;
            case VIRTIO_PCI_COMMON_Q_SIZE -> queueValid() ? queueSize[q] : 0;
            case VIRTIO_PCI_COMMON_Q_MSIX -> queueValid() ? queueMsix[q] : VIRTIO_MSI_NO_VECTOR;
            case VIRTIO_PCI_COMMON_Q_ENABLE -> queueValid() ? queueEnable[q] : 0;
            case VIRTIO_PCI_COMMON_Q_NOFF -> queueValid() ? notifyOff[q] : 0;
            case VIRTIO_PCI_COMMON_Q_DESCLO -> queueValid() ? queueDesc[q] & 0xffffffffL : 0;
            case VIRTIO_PCI_COMMON_Q_DESCHI -> queueValid() ? queueDesc[q] >>> 32 : 0;
            case VIRTIO_PCI_COMMON_Q_AVAILLO -> queueValid() ? queueAvail[q] & 0xffffffffL : 0;
            case VIRTIO_PCI_COMMON_Q_AVAILHI -> queueValid() ? queueAvail[q] >>> 32 : 0;
            case VIRTIO_PCI_COMMON_Q_USEDLO -> queueValid() ? queueUsed[q] & 0xffffffffL : 0;
            case VIRTIO_PCI_COMMON_Q_USEDHI -> queueValid() ? queueUsed[q] >>> 32 : 0;
            default -> 0;
        };
    }

    private void commonWrite(long off, long value) {
        int q = queueSelect;
        switch ((int) off) {
            case VIRTIO_PCI_COMMON_DFSELECT -> dfSelect = (int) value;
            case VIRTIO_PCI_COMMON_GFSELECT -> gfSelect = (int) value;
            case VIRTIO_PCI_COMMON_GF -> {
                if (gfSelect < 2) {
                    int shift = 32 * gfSelect;
                    driverFeatures = (driverFeatures & ~(0xffffffffL << shift)) | ((value & 0xffffffffL) << shift);
                }
            }
            case VIRTIO_PCI_COMMON_MSIX -> configMsix = (int) value;
            case VIRTIO_PCI_COMMON_STATUS -> writeStatus((int) value);
            case VIRTIO_PCI_COMMON_Q_SELECT -> queueSelect = (int) value;
            case VIRTIO_PCI_COMMON_Q_SIZE -> { if (queueValid()) queueSize[q] = (int) value; }
            case VIRTIO_PCI_COMMON_Q_MSIX -> { if (queueValid()) queueMsix[q] = (int) value; }
            case VIRTIO_PCI_COMMON_Q_ENABLE -> {
                if (value == 0) {
                    queueEnableZeroWrites++;
                }
                if (queueValid()) queueEnable[q] = (int) value;
            }
            case VIRTIO_PCI_COMMON_Q_DESCLO -> queueDesc[q] = lo(queueDesc[q], value);
            case VIRTIO_PCI_COMMON_Q_DESCHI -> queueDesc[q] = hi(queueDesc[q], value);
            case VIRTIO_PCI_COMMON_Q_AVAILLO -> queueAvail[q] = lo(queueAvail[q], value);
            case VIRTIO_PCI_COMMON_Q_AVAILHI -> queueAvail[q] = hi(queueAvail[q], value);
            case VIRTIO_PCI_COMMON_Q_USEDLO -> queueUsed[q] = lo(queueUsed[q], value);
            case VIRTIO_PCI_COMMON_Q_USEDHI -> queueUsed[q] = hi(queueUsed[q], value);
            default -> throw new AssertionError("write to read-only common cfg register 0x" + Long.toHexString(off));
        }
    }

    private static long lo(long old, long v) {
        return (old & 0xffffffff00000000L) | (v & 0xffffffffL);
    }

    private static long hi(long old, long v) {
        return (old & 0xffffffffL) | (v << 32);
    }

    private void writeStatus(int value) {
        if (value == 0) {
            statusBeforeReset = status;
            pendingResetReads = resetDelayReads;
            doReset();
            return;
        }
        boolean newFeaturesOk = (value & VirtioStatus.FEATURES_OK) != 0 && (status & VirtioStatus.FEATURES_OK) == 0;
        if (newFeaturesOk && !acceptFeatures.test(driverFeatures)) {
            value &= ~VirtioStatus.FEATURES_OK;
        }
        status = value;
        onStatus.accept(value);
    }

    /** BAR 4 holds the virtio structures; other BARs are plain memory. */
    final class FakeBar implements PciBar {
        private final int index;
        private final byte[] mem;

        FakeBar(int index, int size) {
            this.index = index;
            this.mem = new byte[size];
        }

        @Override public int index() { return index; }
        @Override public long size() { return mem.length; }
        @Override public int read8(long offset) { return (int) read(offset, 1); }
        @Override public int read16(long offset) { return (int) read(offset, 2); }
        @Override public int read32(long offset) { return (int) read(offset, 4); }
        @Override public void write8(long offset, int value) { write(offset, 1, value & 0xffL); }
        @Override public void write16(long offset, int value) { write(offset, 2, value & 0xffffL); }
        @Override public void write32(long offset, int value) { write(offset, 4, value & 0xffffffffL); }

        private void bounds(long offset, int width) {
            if (offset < 0 || offset + width > mem.length) {
                throw new AssertionError("BAR " + index + " access at 0x" + Long.toHexString(offset) + " width " + width + " outside its 0x"
                        + Integer.toHexString(mem.length) + " bytes");
            }
            if (offset % width != 0) {
                throw new AssertionError("BAR " + index + " unaligned access at 0x" + Long.toHexString(offset) + " width " + width);
            }
        }

        private long read(long offset, int width) {
            synchronized (FakeVirtioPciFunction.this) { // the driver's threads (a scsi event poller) share the register file
                return readLocked(offset, width);
            }
        }

        private void write(long offset, int width, long value) {
            synchronized (FakeVirtioPciFunction.this) {
                writeLocked(offset, width, value);
            }
        }

        private long readLocked(long offset, int width) {
            bounds(offset, width);
            long v;
            if (index == 4 && offset < ISR) {
                checkCommonWidth(offset, width);
                v = commonRead(offset);
            } else if (index == 4 && offset >= DEVICE && offset < NOTIFY) {
                if (bumpGenerationOnReads != 0) {
                    generation++;
                    if (bumpGenerationOnReads > 0) {
                        bumpGenerationOnReads--;
                    }
                }
                v = le(deviceConfig, (int) (offset - DEVICE), width);
            } else if (index == 4 && offset >= NOTIFY) {
                throw new AssertionError("read of the notify structure at 0x" + Long.toHexString(offset));
            } else {
                v = le(mem, (int) offset, width);
            }
            accesses.add(new Access(false, index, offset, width, v));
            return v;
        }

        private void writeLocked(long offset, int width, long value) {
            bounds(offset, width);
            accesses.add(new Access(true, index, offset, width, value));
            if (index == 4 && offset < ISR) {
                checkCommonWidth(offset, width);
                commonWrite(offset, value);
            } else if (index == 4 && offset >= DEVICE && offset < NOTIFY) {
                putLe(deviceConfig, (int) (offset - DEVICE), width, value);
            } else if (index == 4 && offset >= NOTIFY) {
                if (width != 2) {
                    throw new AssertionError("notify with width " + width);
                }
                notifies.add(new long[] {offset, value});
                onNotify.accept((int) value);
            } else {
                putLe(mem, (int) offset, width, value);
            }
        }

        private void checkCommonWidth(long offset, int width) {
            int expected = commonWidth(offset);
            if (expected != width) {
                throw new AssertionError("common cfg 0x" + Long.toHexString(offset) + " accessed with " + width * 8 + " bits, the field has "
                        + expected * 8);
            }
        }
    }

    static long le(byte[] b, int off, int width) {
        long v = 0;
        for (int i = width - 1; i >= 0; i--) {
            v = v << 8 | (b[off + i] & 0xff);
        }
        return v;
    }

    static void putLe(byte[] b, int off, int width, long v) {
        for (int i = 0; i < width; i++) {
            b[off + i] = (byte) (v >>> (8 * i));
        }
    }

    @Override
    public String toString() {
        return "FakeVirtioPciFunction[" + address + ", status 0x" + Integer.toHexString(status) + ", queues " + Arrays.toString(queueEnable) + "]";
    }
}
