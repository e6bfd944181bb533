package io.jvirtio.scsi;

import io.jvirtio.core.mem.MemoryDomain;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Collection;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BooleanSupplier;

/**
 * Scans of a controller's targets (SPDK's {@code virtio_scsi_dev_scan} and its rescans): for each
 * target REPORT LUNS and a probe of every LUN ({@link LunScanner}), then the LUN set brought in line
 * with the answers: new LUNs become disks, vanished ones are removed, a capacity change is taken, a
 * changed block size or write protection replaces the disk. Blocking, one command at a time, on the
 * scan queue ({@link RequestQueueAssignment#withScanQueue}). Callers hold the controller's scan lock.
 */
final class TargetScan implements HotplugActions {
    private static final Logger LOG = LoggerFactory.getLogger(TargetScan.class);

    /** Makes the bdev of a LUN the scan found. */
    @FunctionalInterface
    interface DiskFactory {
        VirtioScsiDisk create(ScsiLunInfo info, boolean readOnly);
    }

    /** A scan body, given the scanner on the queue the scan got. */
    @FunctionalInterface
    private interface ScanBody {
        void run(LunScanner s);
    }

    private final String name;
    private final MemoryDomain memory;
    private final int targetCount;
    private final long commandTimeoutNanos;
    private final RequestQueueAssignment queues;
    private final DiskRegistry disks;
    private final DiskFactory newDisk;
    private final BooleanSupplier deviceClosed;
    private final BooleanSupplier linkDown;

    /** @param linkDown whether the link to the target is down: a scan then stops at its first failed command */
    TargetScan(String name, MemoryDomain memory, int targetCount, long commandTimeoutNanos, RequestQueueAssignment queues,
               DiskRegistry disks, DiskFactory newDisk, BooleanSupplier deviceClosed, BooleanSupplier linkDown) {
        this.name = name;
        this.memory = memory;
        this.targetCount = targetCount;
        this.commandTimeoutNanos = commandTimeoutNanos;
        this.queues = queues;
        this.disks = disks;
        this.newDisk = newDisk;
        this.deviceClosed = deviceClosed;
        this.linkDown = linkDown;
    }

    /** The attach scan: every target; listeners are not told (the bdevs are in the controller's list). */
    boolean initialScan() {
        return withScanner(s -> {
            for (int t = 0; t < targetCount; t++) {
                scanTarget(s, t, true);
            }
        });
    }

    @Override
    public int targetCount() {
        return targetCount;
    }

    @Override
    public boolean rescanAll() {
        return withScanner(s -> {
            for (int t = 0; t < targetCount; t++) {
                scanTarget(s, t, false);
            }
        });
    }

    @Override
    public boolean rescan(Collection<Integer> targets) {
        return withScanner(s -> {
            for (int t : targets) {
                scanTarget(s, t, false);
            }
        });
    }

    @Override
    public void removeLun(int target, int lun, String reason) {
        VirtioScsiDisk d = disks.get(target, lun);
        if (d != null) {
            disks.remove(d, reason);
        }
    }

    @Override
    public void announceDrainedRemovals() {
        disks.announceDrainedRemovals();
    }

    private boolean withScanner(ScanBody body) {
        return queues.withScanQueue(q -> {
            try (LunScanner s = new LunScanner(name, memory, q, commandTimeoutNanos)) {
                body.run(s);
            }
        });
    }

    /** Scans one target: REPORT LUNS, then every LUN; adds, updates and removes disks. */
    private void scanTarget(LunScanner s, int target, boolean initial) {
        LunScanner.TargetLuns tl;
        try {
            tl = s.reportLuns(target);
        } catch (ScanException e) {
            scanFailed(e, s, target);
            return;
        }
        TreeMap<Integer, VirtioScsiDisk> existing = disks.ofTarget(target);
        switch (tl.state()) {
            case ABSENT -> {
                for (VirtioScsiDisk d : existing.values()) {
                    disks.remove(d, "target " + target + " no longer exists (" + tl.problem() + ")");
                }
                return;
            }
            case UNAVAILABLE -> {
                LOG.warn("{}: target {} is present but unavailable: {}", name, target, tl.problem());
                return;
            }
            default -> {
            }
        }
        LOG.debug("{}: target {} reports LUNs {}", name, target, tl.luns().keySet());
        for (VirtioScsiDisk d : existing.values()) {
            if (!tl.luns().containsKey(d.lun)) {
                disks.remove(d, "REPORT LUNS of target " + target + " no longer lists LUN " + d.lun);
            }
        }
        for (Map.Entry<Integer, Integer> e : tl.luns().entrySet()) {
            int lun = e.getKey();
            LunScanner.Probe p;
            try {
                p = s.probe(target, lun, e.getValue());
            } catch (ScanException ex) {
                scanFailed(ex, s, target);
                return;
            }
            apply(p, existing.get(lun), initial);
        }
    }

    /** Brings the disk of one LUN ({@code d}, or null when it has none) in line with what the probe found. */
    private void apply(LunScanner.Probe p, VirtioScsiDisk d, boolean initial) {
        ScsiLunInfo info = p.info();
        if (info != null) {
            if (d == null) {
                disks.add(newDisk.create(info, p.readOnly()), !initial);
            } else if (d.blockSize != info.blockSize() || d.readOnly() != p.readOnly()) {
                disks.remove(d, "LUN changed its block size or write protection");
                disks.add(newDisk.create(info, p.readOnly()), !initial);
            } else if (d.blockCount() != info.blockCount()) {
                LOG.info("{}: {} capacity changed from {} to {} blocks", name, d.name(), d.blockCount(), info.blockCount());
                d.updateBlockCount(info.blockCount());
            }
        } else if (p.absent()) {
            if (d != null) {
                disks.remove(d, p.problem());
            } else {
                LOG.debug("{}: {}", name, p.problem());
            }
        } else {
            LOG.warn("{}: {}{}", name, p.problem(), d != null ? "; keeping bdev " + d.name() : "; no bdev");
        }
    }

    /**
     * One target's scan failed: the scan goes on with the next target unless the device or the
     * queue the scan runs on is gone (the dedicated scan queue or a thread's request queue, broken
     * by the device: every later command would fail alike, and an attach must not end with LUNs
     * and no queue to reach them), or the link is down (after a reconnect everything is rescanned).
     */
    private void scanFailed(ScanException e, LunScanner s, int target) {
        if (deviceClosed.getAsBoolean() || linkDown.getAsBoolean() || s.queueBroken()) {
            throw e;
        }
        LOG.warn("{}: scan of target {} failed: {}", name, target, e.getMessage());
    }
}
