package io.jvirtio.scsi;

import io.jvirtio.core.VirtioDevice;
import io.jvirtio.spec.scsi.ScsiSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntSupplier;

import static io.jvirtio.spec.scsi.VirtioScsiSpec.VIRTIO_SCSI_EVT_RESET_REMOVED;
import static io.jvirtio.spec.scsi.VirtioScsiSpec.VIRTIO_SCSI_T_NO_EVENT;
import static io.jvirtio.spec.scsi.VirtioScsiSpec.VIRTIO_SCSI_T_PARAM_CHANGE;
import static io.jvirtio.spec.scsi.VirtioScsiSpec.VIRTIO_SCSI_T_TRANSPORT_RESET;

/**
 * Hot-plug (SPDK's {@code bdev_virtio_scsi}'s event queue poller and {@code process_event}): takes
 * what the event queue completed and turns it into actions on the LUNs ({@link HotplugActions}):
 * TRANSPORT_RESET with REMOVED removes that LUN, with RESCAN (or any other reason) rescans the
 * target, PARAM_CHANGE rescans the target, EVENTS_MISSED rescans every target. Rescans the I/O path
 * asked for (BAD_TARGET, some unit attentions) are run with them. A rescan that finds no request
 * queue free is kept for the next poll.
 *
 * <p>{@link #poll()} runs under the controller's scan lock; {@link #requestRescan} and
 * {@link #unitAttention} on any I/O thread.
 */
final class HotplugEvents {
    private static final Logger LOG = LoggerFactory.getLogger(HotplugEvents.class);
    // SPC-4 additional sense codes of the unit attentions that mean the LUN set or a capacity changed
    private static final int ASC_TARGET_OPERATING_CONDITIONS_HAVE_CHANGED = 0x3F;
    private static final int ASCQ_INQUIRY_DATA_HAS_CHANGED = 0x03;
    private static final int ASCQ_REPORTED_LUNS_DATA_HAS_CHANGED = 0x0E;
    private static final int ASC_PARAMETERS_CHANGED = 0x2A;
    private static final int ASCQ_CAPACITY_DATA_HAS_CHANGED = 0x09;

    /** The rescans one poll is to run. */
    private static final class DueRescans {
        boolean all;
        final TreeSet<Integer> targets = new TreeSet<>();

        boolean any() {
            return all || !targets.isEmpty();
        }
    }

    private final String name;
    private final EventQueue events;
    private final ControlQueue control;
    private final HotplugActions actions;
    /** targets the I/O path asked to rescan (BAD_TARGET, REPORTED LUNS DATA HAS CHANGED, CAPACITY DATA HAS CHANGED) */
    private final Set<Integer> rescanRequests = ConcurrentHashMap.newKeySet();
    private volatile boolean fullRescanRequested;
    private boolean deferWarned;
    private volatile boolean stopped;
    private volatile Thread thread;

    HotplugEvents(String name, EventQueue events, ControlQueue control, HotplugActions actions) {
        this.name = name;
        this.events = events;
        this.control = control;
        this.actions = actions;
    }

    /** Posts every event buffer; at attach. */
    void postBuffers() {
        events.postAll();
    }

    // ---------------------------------------------------------------- from the I/O path

    /** The I/O path saw BAD_TARGET or a unit attention that asks for a rescan; done at the next {@link #poll()}. */
    void requestRescan(int target) {
        if (target >= 0 && target < actions.targetCount()) {
            rescanRequests.add(target);
        }
    }

    /** A command met a UNIT ATTENTION (it is retried); some ask for a rescan. */
    void unitAttention(int target, int lunAddress, ScsiSense sense) {
        LOG.debug("{}: target {} LUN address 0x{}: unit attention {}", name, target, Integer.toHexString(lunAddress), sense.describe());
        if (sense.is(ScsiSpec.KEY_UNIT_ATTENTION, ASC_TARGET_OPERATING_CONDITIONS_HAVE_CHANGED, ASCQ_REPORTED_LUNS_DATA_HAS_CHANGED)
                || sense.is(ScsiSpec.KEY_UNIT_ATTENTION, ASC_PARAMETERS_CHANGED, ASCQ_CAPACITY_DATA_HAS_CHANGED)
                || sense.is(ScsiSpec.KEY_UNIT_ATTENTION, ASC_TARGET_OPERATING_CONDITIONS_HAVE_CHANGED, ASCQ_INQUIRY_DATA_HAS_CHANGED)) {
            requestRescan(target);
        }
    }

    /** Every target is rescanned at the next {@link #poll()} (a rescan after a reconnect could not run). */
    void requestFullRescan() {
        fullRescanRequested = true;
    }

    // ---------------------------------------------------------------- the poll

    /**
     * Takes control-queue completions and events, acts on the events, runs the rescans due and tells
     * listeners of drained removals. Caller holds the scan lock.
     *
     * @return the number of events taken
     * @throws ScanException when a rescan cannot go on (the device or the scan queue is gone)
     */
    int poll() {
        control.tryPoll();
        List<EventQueue.Event> taken = new ArrayList<>();
        int n = events.poll(taken);
        DueRescans due = takeRequestedRescans();
        for (EventQueue.Event e : taken) {
            handle(e, due);
        }
        if (due.any()) {
            rescanOrDefer(due);
        }
        actions.announceDrainedRemovals();
        return n;
    }

    private DueRescans takeRequestedRescans() {
        DueRescans due = new DueRescans();
        due.all = fullRescanRequested;
        fullRescanRequested = false;
        for (Iterator<Integer> it = rescanRequests.iterator(); it.hasNext(); ) {
            due.targets.add(it.next());
            it.remove();
        }
        return due;
    }

    private void handle(EventQueue.Event e, DueRescans due) {
        LOG.info("{}: event {}", name, e);
        if (e.missed()) {
            due.all = true;
        }
        switch (e.event()) {
            case VIRTIO_SCSI_T_NO_EVENT -> {
            }
            case VIRTIO_SCSI_T_TRANSPORT_RESET -> {
                if (e.reason() == VIRTIO_SCSI_EVT_RESET_REMOVED && e.lun() >= 0) {
                    actions.removeLun(e.target(), e.lun(), "hot-unplug event (VIRTIO_SCSI_EVT_RESET_REMOVED)");
                } else {
                    addTarget(due, e.target());
                }
            }
            case VIRTIO_SCSI_T_PARAM_CHANGE -> {
                int asc = e.reason() & 0xFF;
                int ascq = (e.reason() >>> 8) & 0xFF;
                String what = ScsiSense.ascName(asc, ascq);
                LOG.info("{}: target {} lun {}: parameters changed: ASC/ASCQ 0x{}/0x{} {}", name, e.target(), e.lun(),
                        Integer.toHexString(asc), Integer.toHexString(ascq), what == null ? "" : what);
                addTarget(due, e.target());
            }
            default -> LOG.debug("{}: event {} ignored", name, e);
        }
    }

    private void addTarget(DueRescans due, int target) {
        if (target < actions.targetCount()) {
            due.targets.add(target);
        } else {
            LOG.warn("{}: event for target {} outside the scanned targets 0..{}; ignored", name, target, actions.targetCount() - 1);
        }
    }

    /** Runs the rescans, or keeps them for the next poll when no request queue is free. */
    private void rescanOrDefer(DueRescans due) {
        boolean ran = due.all ? actions.rescanAll() : actions.rescan(due.targets);
        if (ran) {
            return;
        }
        if (due.all) {
            fullRescanRequested = true;
        }
        rescanRequests.addAll(due.targets);
        if (!deferWarned) {
            deferWarned = true;
            LOG.warn("{}: a rescan waits: every request queue is held by an I/O thread (the scan runs on the polling"
                    + " thread's queue; attach with a spare request queue for a dedicated scan queue)", name);
        }
    }

    // ---------------------------------------------------------------- the event thread

    /**
     * Starts a daemon thread calling {@code pollEvents} (the controller's, which takes the scan lock)
     * every {@code period}; none when the period is zero.
     */
    void startThread(Duration period, IntSupplier pollEvents) {
        if (period.isZero()) {
            return;
        }
        long periodNanos = period.toNanos();
        thread = Thread.ofPlatform().daemon().name("jvirtio-scsi-" + name + "-events").start(() -> {
            while (!stopped) {
                try {
                    pollEvents.getAsInt();
                } catch (RuntimeException e) {
                    LOG.error("{}: event poll failed", name, e);
                }
                LockSupport.parkNanos(periodNanos);
            }
        });
    }

    /** Stops the event thread and waits up to {@code joinMillis} for it (not when called from it). */
    void stopThread(long joinMillis) {
        stopped = true;
        Thread t = thread;
        if (t != null && t != Thread.currentThread()) {
            LockSupport.unpark(t);
            try {
                t.join(joinMillis);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Gives the event queue back; only once the device no longer touches it. */
    void release(VirtioDevice device) {
        events.free();
        device.releaseQueue(events.queue());
    }
}
