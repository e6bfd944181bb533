package io.jvirtio.core.pci;

import io.jvirtio.core.DeviceException;
import io.jvirtio.spec.VirtioStatus;

import java.time.Duration;
import java.util.concurrent.locks.LockSupport;

import static io.jvirtio.spec.pci.VirtioPciSpec.*;

/**
 * Typed access to {@code struct virtio_pci_common_cfg} (virtio 1.2 4.1.4.3): every register with
 * its own width, 64-bit values as two 32-bit halves (features through their select registers,
 * queue addresses low then high), as SPDK's {@code io_write64_twopart} and libblkio do.
 *
 * <p>Not thread-safe: {@code queue_select} and the feature selects are device state shared by all
 * callers. The transport calls it under its lock.
 */
final class VirtioPciCommonConfig {
    /** The first polls of a reset spin (QEMU answers 0 at once), then the wait parks this long between reads. */
    private static final int RESET_SPINS = 16;
    private static final long RESET_PARK_NANOS = 100_000;

    private final PciBar bar;
    private final long base;
    private final String who;

    /**
     * @param common where the structure is
     * @param who    names the function in errors
     */
    VirtioPciCommonConfig(VirtioPciCapabilities.Structure common, String who) {
        this.bar = common.bar();
        this.base = common.offset();
        this.who = who;
    }

    /** @return the 64 feature bits the device offers: {@code device_feature} under select 0 and 1 */
    long deviceFeatures() {
        bar.write32(base + VIRTIO_PCI_COMMON_DFSELECT, 0);
        long lo = Integer.toUnsignedLong(bar.read32(base + VIRTIO_PCI_COMMON_DF));
        bar.write32(base + VIRTIO_PCI_COMMON_DFSELECT, 1);
        long hi = Integer.toUnsignedLong(bar.read32(base + VIRTIO_PCI_COMMON_DF));
        return hi << 32 | lo;
    }

    /** Writes the 64 feature bits the driver accepts: {@code driver_feature} under select 0 and 1. */
    void setDriverFeatures(long features) {
        bar.write32(base + VIRTIO_PCI_COMMON_GFSELECT, 0);
        bar.write32(base + VIRTIO_PCI_COMMON_GF, (int) features);
        bar.write32(base + VIRTIO_PCI_COMMON_GFSELECT, 1);
        bar.write32(base + VIRTIO_PCI_COMMON_GF, (int) (features >>> 32));
    }

    /** @return {@code device_status} */
    int status() {
        return bar.read8(base + VIRTIO_PCI_COMMON_STATUS);
    }

    /** Writes {@code device_status}; use {@link #reset} for 0. */
    void setStatus(int status) {
        bar.write8(base + VIRTIO_PCI_COMMON_STATUS, status);
    }

    /**
     * Writes 0 to {@code device_status} and waits until it reads back 0: "the driver MUST wait for a
     * read of device_status to return 0 before reinitializing the device" (4.1.4.3.2). SPDK reads
     * once and goes on; the Linux driver waits too.
     *
     * @throws DeviceException naming the last status read when the device does not finish in time
     */
    void reset(Duration timeout) {
        bar.write8(base + VIRTIO_PCI_COMMON_STATUS, VirtioStatus.RESET);
        long deadline = System.nanoTime() + timeout.toNanos();
        int status;
        for (int n = 0; (status = status()) != VirtioStatus.RESET; n++) {
            if (System.nanoTime() - deadline > 0) {
                throw new DeviceException(who + ": reset did not complete within " + timeout.toMillis() + " ms: device_status still reads "
                        + VirtioStatus.describe(status));
            }
            if (n < RESET_SPINS) {
                Thread.onSpinWait();
            } else {
                LockSupport.parkNanos(RESET_PARK_NANOS);
            }
        }
    }

    /** @return {@code config_generation} */
    int configGeneration() {
        return bar.read8(base + VIRTIO_PCI_COMMON_CFGGENERATION);
    }

    /** @return {@code num_queues} */
    int numQueues() {
        return bar.read16(base + VIRTIO_PCI_COMMON_NUMQ);
    }

    /** Sets {@code config_msix_vector}. */
    void setConfigMsixVector(int vector) {
        bar.write16(base + VIRTIO_PCI_COMMON_MSIX, vector);
    }

    /** Writes {@code queue_select}: the Q_* registers show queue {@code index} from now on. */
    void selectQueue(int index) {
        bar.write16(base + VIRTIO_PCI_COMMON_Q_SELECT, index);
    }

    /** @return the selected queue's {@code queue_size} */
    int queueSize() {
        return bar.read16(base + VIRTIO_PCI_COMMON_Q_SIZE);
    }

    /** Writes the selected queue's {@code queue_size}. */
    void setQueueSize(int size) {
        bar.write16(base + VIRTIO_PCI_COMMON_Q_SIZE, size);
    }

    /** @return the selected queue's {@code queue_msix_vector} as read back after a write */
    int setQueueMsixVector(int vector) {
        bar.write16(base + VIRTIO_PCI_COMMON_Q_MSIX, vector);
        return bar.read16(base + VIRTIO_PCI_COMMON_Q_MSIX);
    }

    /** Writes the selected queue's descriptor table, driver (avail) and device (used) ring addresses. */
    void setQueueAddresses(long desc, long driver, long device) {
        write64(VIRTIO_PCI_COMMON_Q_DESCLO, VIRTIO_PCI_COMMON_Q_DESCHI, desc);
        write64(VIRTIO_PCI_COMMON_Q_AVAILLO, VIRTIO_PCI_COMMON_Q_AVAILHI, driver);
        write64(VIRTIO_PCI_COMMON_Q_USEDLO, VIRTIO_PCI_COMMON_Q_USEDHI, device);
    }

    private void write64(int lo, int hi, long value) {
        bar.write32(base + lo, (int) value);
        bar.write32(base + hi, (int) (value >>> 32));
    }

    /** @return the selected queue's {@code queue_notify_off} */
    int queueNotifyOff() {
        return bar.read16(base + VIRTIO_PCI_COMMON_Q_NOFF);
    }

    /** @return the selected queue's {@code queue_enable} */
    int queueEnable() {
        return bar.read16(base + VIRTIO_PCI_COMMON_Q_ENABLE);
    }

    /**
     * Enables the selected queue. There is no disable: "The driver MUST NOT write a 0 to
     * queue_enable" (4.1.4.3.2); a device reset stops every queue.
     */
    void enableQueue() {
        bar.write16(base + VIRTIO_PCI_COMMON_Q_ENABLE, 1);
    }
}
