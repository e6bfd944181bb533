package io.jvirtio.core.pci;

import io.jvirtio.core.DeviceException;
import io.jvirtio.spec.pci.VirtioPciSpec;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static io.jvirtio.spec.pci.PciConfigSpace.*;
import static io.jvirtio.spec.pci.VirtioPciSpec.*;

/**
 * Where a modern virtio PCI function keeps its structures: the first usable vendor capability of
 * each type (virtio 1.2 4.1.4), checked against config space and the BAR it points into.
 *
 * <p>The walk of the standard capability list is bounded: a capability outside config space ends
 * it, a revisited offset (a loop) refuses the function, at most {@code PCI_FIND_CAP_TTL}
 * capabilities are read. A vendor capability is ignored, with the reason kept for the error
 * message, when its {@code bar} is reserved (&gt; 5) or not a memory BAR, its {@code cap_len} is
 * shorter than its structure, or the structure does not fit in the BAR (SPDK's
 * {@code get_cfg_addr} checks) or is too short or misaligned for its type (Linux's
 * {@code vp_modern_map_capability}).
 *
 * @param function     the function the capabilities were read from
 * @param deviceId     the PCI device id
 * @param virtioId     the virtio device id (2 block, 8 SCSI)
 * @param common       {@code VIRTIO_PCI_CAP_COMMON_CFG}
 * @param notification {@code VIRTIO_PCI_CAP_NOTIFY_CFG}
 * @param notifyOffMultiplier the notify capability's {@code notify_off_multiplier}
 * @param isr          {@code VIRTIO_PCI_CAP_ISR_CFG}, when the device has one (a polled driver does not use it)
 * @param device       {@code VIRTIO_PCI_CAP_DEVICE_CFG}
 */
public record VirtioPciCapabilities(PciFunction function, int deviceId, int virtioId, Structure common, Structure notification,
                                    long notifyOffMultiplier, Optional<Structure> isr, Structure device) {

    /** What jvirtio says to a legacy-only function. */
    static final String MODERN_ONLY = "jvirtio drives virtio 1.0+ (modern) devices only; QEMU: disable-legacy=on or a modern device";

    /**
     * One virtio structure in a BAR.
     *
     * @param cfgType   the capability's {@code cfg_type}
     * @param capOffset where the capability sits in config space
     * @param bar       the BAR holding the structure
     * @param offset    the structure's offset in the BAR
     * @param length    the structure's length
     */
    public record Structure(int cfgType, int capOffset, PciBar bar, long offset, long length) {
        @Override
        public String toString() {
            return VirtioPciSpec.capTypeName(cfgType) + "@0x" + Integer.toHexString(capOffset) + " (BAR " + bar.index() + " offset 0x"
                    + Long.toHexString(offset) + " length 0x" + Long.toHexString(length) + ")";
        }
    }

    /**
     * Reads and checks the capabilities of {@code function}.
     *
     * @throws DeviceException naming the function when it is not a virtio function, is legacy-only,
     *         has a looping capability list, or lacks a usable common, notify or device capability
     */
    public static VirtioPciCapabilities read(PciFunction function) {
        String who = "PCI function " + function.address();
        int vendor = function.readConfig16(PCI_VENDOR_ID);
        int deviceId = function.readConfig16(PCI_DEVICE_ID);
        if (vendor != VIRTIO_PCI_VENDOR_ID || deviceId < VIRTIO_TRANS_ID_MIN || deviceId > VIRTIO_PCI_DEVICE_ID_MAX
                || (deviceId > VIRTIO_TRANS_ID_MAX && deviceId < VIRTIO_PCI_DEVICE_ID_BASE)) {
            throw new DeviceException(who + " is not a virtio device (vendor 0x" + Integer.toHexString(vendor) + ", device 0x"
                    + Integer.toHexString(deviceId) + "; virtio is vendor 0x1af4, device 0x1000-0x103f or 0x1040-0x107f)");
        }
        boolean transitional = deviceId <= VIRTIO_TRANS_ID_MAX;
        int virtioId = transitional ? function.readConfig16(PCI_SUBSYSTEM_ID) : deviceId - VIRTIO_PCI_DEVICE_ID_BASE;
        String what = who + " (virtio device 0x" + Integer.toHexString(deviceId) + ", virtio id " + virtioId + ")";

        Walk walk = new Walk(function, what);
        if ((function.readConfig16(PCI_STATUS) & PCI_STATUS_CAP_LIST) != 0) {
            walk.run();
        }
        if (!walk.sawVirtioCap) {
            throw new DeviceException(what + " has no virtio vendor capabilities: it is a legacy-only device. " + MODERN_ONLY);
        }
        Structure common = walk.required(VIRTIO_PCI_CAP_COMMON_CFG, walk.common);
        Structure notify = walk.required(VIRTIO_PCI_CAP_NOTIFY_CFG, walk.notify);
        Structure device = walk.required(VIRTIO_PCI_CAP_DEVICE_CFG, walk.device);
        return new VirtioPciCapabilities(function, deviceId, virtioId, common, notify, walk.multiplier, Optional.ofNullable(walk.isr), device);
    }

    /** One pass over the standard capability list. */
    private static final class Walk {
        private final PciFunction f;
        private final String what;
        private final List<String> ignored = new ArrayList<>();
        private boolean sawVirtioCap;
        private Structure common;
        private Structure notify;
        private Structure isr;
        private Structure device;
        private long multiplier;

        Walk(PciFunction f, String what) {
            this.f = f;
            this.what = what;
        }

        void run() {
            // the standard list lives in the first 256 bytes even on PCIe
            int limit = Math.min(f.configSize(), PCI_CFG_SPACE_SIZE);
            boolean[] visited = new boolean[limit];
            int pos = f.readConfig8(PCI_CAPABILITY_LIST) & ~3; // the low two bits are reserved
            for (int n = 0; pos != 0; n++) {
                if (pos < PCI_STD_HEADER_SIZEOF || pos + 2 > limit) {
                    ignored.add("capability pointer 0x" + Integer.toHexString(pos) + " outside config space 0x40..0x" + Integer.toHexString(limit - 1)
                            + " ends the list");
                    return;
                }
                if (visited[pos] || n >= PCI_FIND_CAP_TTL) {
                    throw new DeviceException(what + ": its capability list loops (capability 0x" + Integer.toHexString(pos)
                            + " reached again after " + n + " capabilities)");
                }
                visited[pos] = true;
                if (f.readConfig8(pos + PCI_CAP_LIST_ID) == PCI_CAP_ID_VNDR) {
                    vendorCap(pos, limit);
                }
                pos = f.readConfig8(pos + PCI_CAP_LIST_NEXT) & ~3;
            }
        }

        private void vendorCap(int pos, int limit) {
            if (pos + VIRTIO_PCI_CAP_SIZE > limit) {
                ignored.add("vendor capability at 0x" + Integer.toHexString(pos) + " runs past config space");
                return;
            }
            int capLen = f.readConfig8(pos + VIRTIO_PCI_CAP_LEN);
            int type = f.readConfig8(pos + VIRTIO_PCI_CAP_CFG_TYPE);
            int barIndex = f.readConfig8(pos + VIRTIO_PCI_CAP_BAR);
            long offset = Integer.toUnsignedLong(f.readConfig32(pos + VIRTIO_PCI_CAP_OFFSET));
            long length = Integer.toUnsignedLong(f.readConfig32(pos + VIRTIO_PCI_CAP_LENGTH));
            int minCapLen;
            int minLength;
            int align;
            switch (type) {
                case VIRTIO_PCI_CAP_COMMON_CFG -> { minCapLen = VIRTIO_PCI_CAP_SIZE; minLength = VIRTIO_PCI_COMMON_CFG_SIZE; align = 4; }
                case VIRTIO_PCI_CAP_NOTIFY_CFG -> { minCapLen = VIRTIO_PCI_NOTIFY_CAP_SIZE; minLength = 2; align = 2; }
                case VIRTIO_PCI_CAP_ISR_CFG -> { minCapLen = VIRTIO_PCI_CAP_SIZE; minLength = 1; align = 1; }
                case VIRTIO_PCI_CAP_DEVICE_CFG -> { minCapLen = VIRTIO_PCI_CAP_SIZE; minLength = 0; align = 4; }
                default -> {
                    // PCI_CFG is a config-space window, shared memory and vendor data are not used; reserved types are ignored
                    if (capLen >= VIRTIO_PCI_CAP_SIZE && barIndex < PCI_STD_NUM_BARS) {
                        sawVirtioCap = true;
                    }
                    return;
                }
            }
            String name = capTypeName(type) + " at 0x" + Integer.toHexString(pos);
            if (capLen < minCapLen) {
                ignored.add(name + ": cap_len " + capLen + " < " + minCapLen);
                return;
            }
            if (pos + capLen > limit) {
                ignored.add(name + ": cap_len " + capLen + " runs past config space");
                return;
            }
            if (barIndex >= PCI_STD_NUM_BARS) {
                ignored.add(name + ": reserved bar " + barIndex);
                return;
            }
            sawVirtioCap = true;
            if (already(type)) {
                return; // the first of each type wins (4.1.4.1), later ones are alternatives the driver may ignore
            }
            Optional<PciBar> bar = f.bar(barIndex);
            if (bar.isEmpty()) {
                ignored.add(name + ": BAR " + barIndex + " is absent or not a memory BAR");
                return;
            }
            long barSize = bar.get().size();
            if (offset + length > barSize) {
                ignored.add(name + ": offset 0x" + Long.toHexString(offset) + " + length 0x" + Long.toHexString(length)
                        + " overflows BAR " + barIndex + " (size 0x" + Long.toHexString(barSize) + ")");
                return;
            }
            if (length < minLength) {
                ignored.add(name + ": length " + length + " < " + minLength);
                return;
            }
            if (offset % align != 0) {
                ignored.add(name + ": offset 0x" + Long.toHexString(offset) + " is not " + align + "-byte aligned");
                return;
            }
            Structure s = new Structure(type, pos, bar.get(), offset, length);
            switch (type) {
                case VIRTIO_PCI_CAP_COMMON_CFG -> common = s;
                case VIRTIO_PCI_CAP_NOTIFY_CFG -> {
                    notify = s;
                    multiplier = Integer.toUnsignedLong(f.readConfig32(pos + VIRTIO_PCI_NOTIFY_CAP_MULT));
                }
                case VIRTIO_PCI_CAP_ISR_CFG -> isr = s;
                default -> device = s;
            }
        }

        private boolean already(int type) {
            return switch (type) {
                case VIRTIO_PCI_CAP_COMMON_CFG -> common != null;
                case VIRTIO_PCI_CAP_NOTIFY_CFG -> notify != null;
                case VIRTIO_PCI_CAP_ISR_CFG -> isr != null;
                default -> device != null;
            };
        }

        Structure required(int type, Structure s) {
            if (s == null) {
                throw new DeviceException(what + ": no usable " + capTypeName(type) + " capability"
                        + (ignored.isEmpty() ? "" : " (ignored: " + String.join("; ", ignored) + ")"));
            }
            return s;
        }
    }
}
