package io.jvirtio.backend.scsi;

import java.util.Collections;
import java.util.NavigableMap;
import java.util.concurrent.ConcurrentSkipListMap;

/**
 * A SCSI target of the virtio-scsi host: its LUNs by number. A target with no LUN does not exist
 * for the driver (VIRTIO_SCSI_S_BAD_TARGET), as with QEMU.
 */
public final class ScsiTarget {
    private final int id;
    private final ConcurrentSkipListMap<Integer, ScsiLun> luns = new ConcurrentSkipListMap<>();

    ScsiTarget(int id) {
        this.id = id;
    }

    public int id() {
        return id;
    }

    /** @return the LUN attached as {@code lun}, or null */
    public ScsiLun lun(int lun) {
        return luns.get(lun);
    }

    /** @return a live, sorted, read-only view of the LUNs */
    public NavigableMap<Integer, ScsiLun> luns() {
        return Collections.unmodifiableNavigableMap(luns);
    }

    /** @return whether the driver sees this target (it has at least one LUN) */
    public boolean exists() {
        return !luns.isEmpty();
    }

    ScsiLun put(int lun, ScsiLun l) {
        return luns.putIfAbsent(lun, l);
    }

    ScsiLun remove(int lun) {
        return luns.remove(lun);
    }

    @Override
    public String toString() {
        return "target " + id + " " + luns.values();
    }
}
