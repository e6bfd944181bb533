package io.jvirtio.scsi;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The LUN bdevs of one controller (SPDK's {@code virtio_scsi_dev.luns}), by target then LUN, with the
 * {@link BdevListener}s and the removals whose channels still hold I/O. A removed disk is told to its
 * listeners only once every channel of it has drained, so a listener never sees a bdev go while I/O
 * to it can still complete.
 *
 * <p>Lookups run on any thread; changes, removals and listener calls only under the controller's scan
 * lock.
 */
final class DiskRegistry {
    private static final Logger LOG = LoggerFactory.getLogger(DiskRegistry.class);

    private final String name;
    private final ConcurrentSkipListMap<Integer, VirtioScsiDisk> disks = new ConcurrentSkipListMap<>();
    private final CopyOnWriteArrayList<BdevListener> listeners = new CopyOnWriteArrayList<>();
    /** removed disks whose channels still hold I/O; guarded by the scan lock */
    private final List<VirtioScsiDisk> removing = new ArrayList<>();
    /** bumped on every removal: request queues compare it on their poll to look for removed LUNs */
    private volatile int removalEpoch;

    DiskRegistry(String name) {
        this.name = name;
    }

    private static int key(int target, int lun) {
        return (target << 16) | lun;
    }

    VirtioScsiDisk get(int target, int lun) {
        return disks.get(key(target, lun));
    }

    Optional<VirtioScsiDisk> byName(String bdevName) {
        for (VirtioScsiDisk d : disks.values()) {
            if (d.name().equals(bdevName)) {
                return Optional.of(d);
            }
        }
        return Optional.empty();
    }

    /** @return the disks, by target then LUN */
    List<VirtioScsiDisk> list() {
        return List.copyOf(disks.values());
    }

    int size() {
        return disks.size();
    }

    /** @return the disks of one target, by LUN */
    TreeMap<Integer, VirtioScsiDisk> ofTarget(int target) {
        TreeMap<Integer, VirtioScsiDisk> out = new TreeMap<>();
        for (VirtioScsiDisk d : disks.subMap(key(target, 0), key(target + 1, 0)).values()) {
            out.put(d.lun, d);
        }
        return out;
    }

    int removalEpoch() {
        return removalEpoch;
    }

    void addListener(BdevListener listener) {
        listeners.add(listener);
    }

    void removeListener(BdevListener listener) {
        listeners.remove(listener);
    }

    /**
     * Adds a disk the scan found.
     *
     * @param announce whether listeners hear of it (not for the attach scan: those are in the bdev list)
     */
    void add(VirtioScsiDisk d, boolean announce) {
        ScsiLunInfo info = d.info();
        disks.put(key(d.target, d.lun), d);
        LOG.info("{}: {}: target {} lun {}, {} x {} B ({} {} {}){}{}{}", name, d.name(), info.target(), info.lun(),
                info.blockCount(), info.blockSize(), info.vendor(), info.product(), info.revision(),
                d.readOnly() ? ", write-protected" : "", d.unmapSupported ? ", unmap" : "", d.writeSameSupported ? ", write same" : "");
        if (!announce) {
            return;
        }
        for (BdevListener l : listeners) {
            try {
                l.bdevAdded(d);
            } catch (RuntimeException ex) {
                LOG.error("{}: listener {} threw on bdevAdded({})", name, l, d.name(), ex);
            }
        }
    }

    /** Starts removing a disk: I/O refused from now on; listeners hear of it once its channels drained. */
    void remove(VirtioScsiDisk d, String reason) {
        if (!disks.remove(key(d.target, d.lun), d)) {
            return;
        }
        d.markRemoved(reason);
        removing.add(d);
        removalEpoch++;
        LOG.info("{}: removing {}: {}", name, d.name(), reason);
    }

    /** Tells listeners of the removed disks whose channels have all drained since. */
    void announceDrainedRemovals() {
        for (Iterator<VirtioScsiDisk> it = removing.iterator(); it.hasNext(); ) {
            VirtioScsiDisk d = it.next();
            if (d.removalComplete()) {
                it.remove();
                LOG.info("{}: {} removed", name, d.name());
                for (BdevListener l : listeners) {
                    try {
                        l.bdevRemoved(d);
                    } catch (RuntimeException ex) {
                        LOG.error("{}: listener {} threw on bdevRemoved({})", name, l, d.name(), ex);
                    }
                }
            }
        }
    }

    /** @return removed disks whose channels still hold I/O (listeners not called yet) */
    int pendingRemovals() {
        return removing.size();
    }

    /** The controller closed: every disk refuses I/O; listeners are not called, the bdevs go with the controller. */
    void markAllRemoved(String reason) {
        for (VirtioScsiDisk d : disks.values()) {
            d.markRemoved(reason);
        }
        removalEpoch++;
    }
}
