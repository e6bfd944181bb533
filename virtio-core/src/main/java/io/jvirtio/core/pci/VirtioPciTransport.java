package io.jvirtio.core.pci;

import io.jvirtio.core.DeviceException;
import io.jvirtio.core.QueueSetup;
import io.jvirtio.core.VirtioBackendOps;
import io.jvirtio.spec.VirtioFeatures;
import io.jvirtio.spec.VirtioStatus;
import io.jvirtio.spec.blk.VirtioBlkSpec;
import io.jvirtio.spec.pci.VirtioPciSpec;
import io.jvirtio.spec.scsi.VirtioScsiSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.function.IntUnaryOperator;

import static io.jvirtio.spec.VirtioFeatures.VIRTIO_F_ACCESS_PLATFORM;
import static io.jvirtio.spec.VirtioFeatures.VIRTIO_F_ORDER_PLATFORM;
import static io.jvirtio.spec.pci.VirtioPciSpec.VIRTIO_MSI_NO_VECTOR;

/**
 * The virtio-pci modern transport (virtio 1.2 4.1; SPDK's {@code modern_ops} in
 * {@code lib/virtio/virtio_pci.c}) over a {@link PciFunction}.
 *
 * <p>Decisions (docs/virtio-pci.md): completions are polled, so every vector is
 * {@code VIRTIO_MSI_NO_VECTOR}; the platform bits VIRTIO_F_ACCESS_PLATFORM and
 * VIRTIO_F_ORDER_PLATFORM are the transport's: hidden from {@link #getFeatures()}, added by
 * {@link #setFeatures} whenever offered, and a device that does not offer ACCESS_PLATFORM is
 * refused by {@link #open} (it would DMA around the IOMMU); a reset waits for status 0; device
 * config is read field by field with each field's width under {@code config_generation}; a queue
 * is never disabled by writing 0 to {@code queue_enable} (the spec forbids it), a reset stops it.
 *
 * <p>Setup calls are serialized on the transport ({@code queue_select} is shared device state);
 * {@link #notifyQueue} takes no lock and allocates nothing.
 */
public final class VirtioPciTransport implements VirtioBackendOps {
    /** What {@link #transportType()} and SPDK's {@code driver_specific.virtio.type} say. */
    public static final String TRANSPORT_TYPE = "pci-modern";
    /** SPDK's {@code trtype} for a PCI controller. */
    public static final String TRTYPE = "pci";
    /** The feature bits this transport negotiates itself: the platform's, not the device type's. */
    static final long TRANSPORT_FEATURES = VirtioFeatures.bit(VIRTIO_F_ACCESS_PLATFORM) | VirtioFeatures.bit(VIRTIO_F_ORDER_PLATFORM);

    private static final Logger LOG = LoggerFactory.getLogger(VirtioPciTransport.class);

    private final PciFunction function;
    private final VirtioPciOptions options;
    private final VirtioPciCapabilities caps;
    private final VirtioPciCommonConfig common;
    private final VirtioPciDeviceConfig deviceConfig;
    private final VirtioPciNotifier notifier;
    private final String who;
    private final int numQueues;
    /** per queue: queue_size as the device offered it before any write (after a write it reads what was written); 0 = not read yet */
    private final int[] maxQueueSize;
    private int status;
    private boolean destructed;

    private VirtioPciTransport(PciFunction function, VirtioPciOptions options, VirtioPciCapabilities caps) {
        this.function = function;
        this.options = options;
        this.caps = caps;
        this.who = "virtio-pci " + function.address();
        this.common = new VirtioPciCommonConfig(caps.common(), who);
        this.deviceConfig = new VirtioPciDeviceConfig(caps.device(), fieldWidths(caps.virtioId()), common, options.generationRetries(), who);
        common.reset(options.resetTimeout());
        this.numQueues = common.numQueues();
        this.notifier = new VirtioPciNotifier(caps, numQueues, who);
        this.maxQueueSize = new int[numQueues];
    }

    /**
     * Takes over a function: walks its virtio capabilities, refuses a legacy-only or incomplete one and
     * one of another device type than {@link VirtioPciOptions#virtioId()} asks for, resets the
     * device, refuses a device that does not offer VIRTIO_F_ACCESS_PLATFORM, and leaves it
     * reset. The transport owns the function from now on ({@link #destruct()} closes it); on failure
     * the function is closed.
     *
     * @throws io.jvirtio.core.DeviceException naming the function and what is missing
     */
    public static VirtioPciTransport open(PciFunction function, VirtioPciOptions options) {
        Objects.requireNonNull(function, "function");
        Objects.requireNonNull(options, "options");
        try {
            VirtioPciCapabilities caps = VirtioPciCapabilities.read(function);
            if (options.virtioId() != VirtioPciOptions.ANY_DEVICE && caps.virtioId() != options.virtioId()) {
                throw new DeviceException("PCI function " + function.address() + " is a " + typeName(caps.virtioId()) + " device (virtio id "
                        + caps.virtioId() + ", PCI device 0x" + Integer.toHexString(caps.deviceId()) + "), not " + typeName(options.virtioId())
                        + attachAs(caps.virtioId()));
            }
            VirtioPciTransport t = new VirtioPciTransport(function, options, caps);
            t.requireAccessPlatform();
            LOG.info("{}: virtio id {} (PCI device 0x{}), {} queues, common {}, notify {} (multiplier {}), device {}", t.who, t.caps.virtioId(),
                    Integer.toHexString(t.caps.deviceId()), t.numQueues, t.caps.common(), t.caps.notification(), t.caps.notifyOffMultiplier(), t.caps.device());
            return t;
        } catch (RuntimeException e) {
            try {
                function.close();
            } catch (RuntimeException suppressed) {
                e.addSuppressed(suppressed);
            }
            throw e;
        }
    }

    /**
     * Reads the offered features the way the spec orders it (after ACKNOWLEDGE and DRIVER) and
     * resets again. Under VFIO the device sees IOVAs: without ACCESS_PLATFORM it would take them
     * for physical addresses and DMA around the IOMMU.
     */
    private void requireAccessPlatform() {
        common.setStatus(VirtioStatus.ACKNOWLEDGE);
        common.setStatus(VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER);
        long offered = common.deviceFeatures();
        common.reset(options.resetTimeout());
        if (!VirtioFeatures.has(offered, VIRTIO_F_ACCESS_PLATFORM)) {
            throw new DeviceException(who + ": the device (features 0x" + Long.toHexString(offered)
                    + ") does not offer VIRTIO_F_ACCESS_PLATFORM (bit 33): it would DMA around the IOMMU; QEMU: iommu_platform=on");
        }
    }

    private static String typeName(int virtioId) {
        return switch (virtioId) {
            case VirtioPciSpec.VIRTIO_ID_BLOCK -> "virtio-blk";
            case VirtioPciSpec.VIRTIO_ID_SCSI -> "virtio-scsi";
            case 1 -> "virtio-net";
            case 9 -> "virtio-9p";
            default -> "virtio type " + virtioId;
        };
    }

    /** What to do instead, for the two device types jvirtio drives. */
    private static String attachAs(int virtioId) {
        return switch (virtioId) {
            case VirtioPciSpec.VIRTIO_ID_BLOCK -> "; attach it as blk (dev_type \"blk\", VirtioBlkDevice.attachPci)";
            case VirtioPciSpec.VIRTIO_ID_SCSI -> "; attach it as scsi (dev_type \"scsi\", VirtioScsiController.attachPci)";
            default -> "";
        };
    }

    /** The field table of the device type's config struct; other types get aligned accesses only. */
    private static IntUnaryOperator fieldWidths(int virtioId) {
        return switch (virtioId) {
            case VirtioPciSpec.VIRTIO_ID_BLOCK -> VirtioBlkSpec::cfgFieldWidth;
            case VirtioPciSpec.VIRTIO_ID_SCSI -> VirtioScsiSpec::cfgFieldWidth;
            default -> offset -> 0;
        };
    }

    /** @return the function this transport drives */
    public PciFunction function() {
        return function;
    }

    /** @return the capabilities found at {@link #open} */
    public VirtioPciCapabilities capabilities() {
        return caps;
    }

    /** @return the virtio device id (2 block, 8 SCSI): the driver checks it is the type it drives */
    public int virtioDeviceId() {
        return caps.virtioId();
    }

    @Override
    public String transportType() {
        return TRANSPORT_TYPE;
    }

    @Override
    public synchronized void readDevConfig(long offset, MemorySegment dst) {
        ensureOpen();
        deviceConfig.read(offset, dst);
    }

    @Override
    public synchronized void writeDevConfig(long offset, MemorySegment src) {
        ensureOpen();
        deviceConfig.write(offset, src);
    }

    /**
     * @return {@code device_status} as the device reports it: DEVICE_NEEDS_RESET (0x40) is the
     *         device's own way to say it stopped (QEMU sets it on a broken descriptor chain)
     */
    @Override
    public synchronized int getStatus() {
        ensureOpen();
        return common.status();
    }

    /** Writes {@code device_status}; {@link VirtioStatus#RESET} resets, waits for 0, and forgets every queue. */
    @Override
    public synchronized void setStatus(int newStatus) {
        ensureOpen();
        if (newStatus < 0 || newStatus > 0xff) {
            throw new IllegalArgumentException(who + ": status 0x" + Integer.toHexString(newStatus) + " is not a byte");
        }
        if (newStatus == VirtioStatus.RESET) {
            notifier.forgetAll();
            common.reset(options.resetTimeout());
        } else {
            common.setStatus(newStatus);
        }
        status = newStatus;
        LOG.debug("{}: status {}", who, VirtioStatus.describe(newStatus));
    }

    /** @return the offered features without the platform bits (the transport accepts those itself) */
    @Override
    public synchronized long getFeatures() {
        ensureOpen();
        return common.deviceFeatures() & ~TRANSPORT_FEATURES;
    }

    /**
     * Writes the driver's features, adding VIRTIO_F_ACCESS_PLATFORM and VIRTIO_F_ORDER_PLATFORM when
     * the device offers them (QEMU refuses FEATURES_OK when ACCESS_PLATFORM is offered and not taken).
     *
     * @throws IllegalArgumentException when {@code features} holds a bit the device did not offer
     */
    @Override
    public synchronized void setFeatures(long features) {
        ensureOpen();
        long offered = common.deviceFeatures();
        long extra = features & ~(offered & ~TRANSPORT_FEATURES);
        if (extra != 0) {
            throw new IllegalArgumentException(who + ": features 0x" + Long.toHexString(features) + " include 0x" + Long.toHexString(extra)
                    + ", not offered by the device (offered 0x" + Long.toHexString(offered & ~TRANSPORT_FEATURES) + ")");
        }
        common.setDriverFeatures(features | (offered & TRANSPORT_FEATURES));
    }

    /** @return {@code num_queues} */
    @Override
    public OptionalInt getMaxQueues() {
        return OptionalInt.of(numQueues);
    }

    /**
     * @return the largest size of queue {@code index}: {@code queue_size} as read before the driver
     *         wrote it (cached; after a write the register reads back the written size); 0 when the
     *         device has no such queue
     */
    @Override
    public synchronized int getQueueSize(int index) {
        ensureOpen();
        checkQueueIndex(index);
        if (maxQueueSize[index] == 0) {
            common.selectQueue(index);
            maxQueueSize[index] = common.queueSize();
        }
        return maxQueueSize[index];
    }

    /**
     * Sets up one queue in the order of virtio 1.2 4.1.5.1.3: select, size, the three ring IOVAs (the
     * addresses given are device addresses), no MSI-X vector, the notify offset, then enable.
     *
     * @throws DeviceException when {@code availIndex} is not 0 (a PCI device has no way to resume a
     *         ring mid-way), the size is not a power of two up to the maximum, the device already
     *         runs, or the notify address is outside the notify structure
     */
    @Override
    public synchronized void setupQueue(QueueSetup q) {
        ensureOpen();
        int i = q.index();
        checkQueueIndex(i);
        if (q.availIndex() != q.freshBase()) {
            throw new DeviceException(who + ": queue " + i + " cannot start at avail index " + q.availIndex()
                    + ": a virtio-pci device always starts a ring at " + q.freshBase() + " (no SET_VRING_BASE)");
        }
        if ((status & VirtioStatus.DRIVER_OK) != 0) {
            throw new DeviceException(who + ": queue " + i + " set up after DRIVER_OK (status " + VirtioStatus.describe(status)
                    + "); queues are configured before the device starts");
        }
        int max = getQueueSize(i);
        if (q.size() <= 0 || Integer.bitCount(q.size()) != 1 || q.size() > max) {
            throw new DeviceException(who + ": queue " + i + " size " + q.size() + " is not a power of two in 1.." + max);
        }
        common.selectQueue(i);
        common.setQueueSize(q.size());
        common.setQueueAddresses(q.descAddress(), q.availAddress(), q.usedAddress());
        int vector = common.setQueueMsixVector(VIRTIO_MSI_NO_VECTOR);
        if (vector != VIRTIO_MSI_NO_VECTOR) {
            LOG.warn("{}: queue {} queue_msix_vector reads 0x{} after writing NO_VECTOR", who, i, Integer.toHexString(vector));
        }
        long notifyAt = notifier.setUp(i, common.queueNotifyOff());
        common.enableQueue();
        LOG.debug("{}: queue {} size {} desc 0x{} avail 0x{} used 0x{} notify at BAR {} + 0x{}", who, i, q.size(), Long.toHexString(q.descAddress()),
                Long.toHexString(q.availAddress()), Long.toHexString(q.usedAddress()), caps.notification().bar().index(), Long.toHexString(notifyAt));
    }

    /**
     * Forgets queue {@code index}. Nothing is written: "The driver MUST NOT write a 0 to
     * queue_enable" (SPDK's {@code modern_del_queue} does); the next reset stops the queue.
     *
     * @return -1: a PCI device does not report where a ring stopped
     */
    @Override
    public synchronized int deleteQueue(int index) {
        checkQueueIndex(index);
        notifier.forget(index);
        return -1;
    }

    /** One 16-bit store of the queue index at the queue's notify address. No lock, no allocation. */
    @Override
    public void notifyQueue(int index) {
        notifier.notify(index);
    }

    /** Resets the device when it can, then closes the function. Idempotent. */
    @Override
    public synchronized void destruct() {
        if (destructed) {
            return;
        }
        destructed = true;
        notifier.forgetAll();
        try {
            common.reset(options.resetTimeout());
        } catch (RuntimeException e) {
            LOG.warn("{}: reset on close failed: {}", who, e.getMessage());
        } finally {
            function.close();
        }
        LOG.debug("{}: closed", who);
    }

    /** {@code type} "pci-modern", {@code pci_address}, in SPDK's order ({@code pci_dump_json_info}) */
    @Override
    public Map<String, Object> dumpJsonInfo() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", TRANSPORT_TYPE);
        m.put("pci_address", function.address().toString());
        return m;
    }

    /** {@code trtype} "pci", {@code traddr}, in SPDK's order ({@code pci_write_json_config}) */
    @Override
    public Map<String, Object> writeJsonConfig() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("trtype", TRTYPE);
        m.put("traddr", function.address().toString());
        return m;
    }

    private void checkQueueIndex(int index) {
        if (index < 0 || index >= numQueues) {
            throw new DeviceException(who + ": queue index " + index + " out of range: the device has " + numQueues + " queues");
        }
    }

    private void ensureOpen() {
        if (destructed) {
            throw new IllegalStateException(who + ": transport closed");
        }
    }

    @Override
    public String toString() {
        return "VirtioPciTransport[" + function.address() + ", virtio id " + caps.virtioId() + ", " + numQueues + " queues, queue sizes "
                + Arrays.toString(maxQueueSize) + "]";
    }
}
