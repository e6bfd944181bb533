package io.jvirtio.backend.scsi;

import io.jvirtio.backend.device.DeviceRequest;
import io.jvirtio.spec.scsi.VirtioScsiSpec;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;

/**
 * The event queue (virtio spec 5.6.6.3): holds the buffers the driver posts and fills one per event.
 * An event with no buffer posted is lost; the next buffer then reports VIRTIO_SCSI_T_NO_EVENT with
 * VIRTIO_SCSI_T_EVENTS_MISSED (bit 31), and lun[0] = 1 so that drivers that check the layout (SPDK)
 * accept it.
 */
final class EventQueueHandler {
    private static final Logger LOG = LoggerFactory.getLogger(EventQueueHandler.class);
    private static final long FILL_WAIT_MILLIS = 5000;

    private final String name;
    private final ArrayDeque<DeviceRequest> buffers = new ArrayDeque<>();
    private boolean missed;
    private int missedTarget;
    private long sent;
    private long dropped;
    /** Fills of buffers taken from the deque and not yet completed; guarded by this. */
    private int filling;

    EventQueueHandler(String name) {
        this.name = name;
    }

    /** A buffer the driver posted on the event queue. */
    void post(DeviceRequest buffer) {
        if (buffer.writableBytes() < VirtioScsiSpec.EVENT_SIZE || buffer.readableCount() != 0) {
            LOG.warn("{}: eventq buffer of {} writable / {} readable bytes is not a virtio_scsi_event; returned unused",
                    name, buffer.writableBytes(), buffer.readableBytes());
            buffer.complete(0);
            return;
        }
        boolean reportMissed;
        int target;
        synchronized (this) {
            reportMissed = missed;
            target = missedTarget;
            missed = false;
            if (!reportMissed) {
                buffers.add(buffer);
                return;
            }
            sent++;
            filling++;
        }
        fill(buffer, VirtioScsiSpec.VIRTIO_SCSI_T_NO_EVENT | VirtioScsiSpec.VIRTIO_SCSI_T_EVENTS_MISSED, new byte[] {1, (byte) target, 0, 0, 0, 0, 0, 0}, 0);
    }

    /**
     * Sends an event now, or remembers that one was missed when no buffer is posted. Callers serialize
     * their calls (the model's topology lock) so that events reach the used ring in order; the buffer is
     * completed outside this object's lock.
     */
    void send(int event, byte[] lun, int reason) {
        DeviceRequest buffer;
        int flags = 0;
        synchronized (this) {
            buffer = buffers.poll();
            if (buffer == null) {
                if (!missed) {
                    missed = true;
                    missedTarget = lun[1] & 0xFF;
                }
                dropped++;
                LOG.info("{}: no eventq buffer for event {} reason {} of target {}: reporting EVENTS_MISSED later",
                        name, event, reason, lun[1] & 0xFF);
                return;
            }
            if (missed) {
                flags = VirtioScsiSpec.VIRTIO_SCSI_T_EVENTS_MISSED;
                missed = false;
            }
            sent++;
            filling++;
        }
        fill(buffer, event | flags, lun, reason);
    }

    private void fill(DeviceRequest buffer, int event, byte[] lun, int reason) {
        try {
            byte[] ev = new byte[VirtioScsiSpec.EVENT_SIZE];
            MemorySegment e = MemorySegment.ofArray(ev);
            e.set(VirtioScsiSpec.LE_INT, VirtioScsiSpec.EVENT_EVENT, event);
            System.arraycopy(lun, 0, ev, VirtioScsiSpec.EVENT_LUN, 8);
            e.set(VirtioScsiSpec.LE_INT, VirtioScsiSpec.EVENT_REASON, reason);
            Iov.of(buffer, false).write(0, e);
            buffer.complete(VirtioScsiSpec.EVENT_SIZE);
        } catch (RuntimeException ex) {
            LOG.error("{}: cannot write an event: {}", name, ex.toString());
            buffer.complete(0);
        } finally {
            synchronized (this) {
                filling--;
                notifyAll();
            }
        }
    }

    /**
     * Forgets the posted buffers (queue stopped or device reset): they will never be used. Waits (up to
     * {@code FILL_WAIT_MILLIS}) for fills in progress, so that no buffer is touched after the return.
     */
    synchronized List<DeviceRequest> forgetBuffers() {
        List<DeviceRequest> l = new ArrayList<>(buffers);
        buffers.clear();
        long deadline = System.nanoTime() + FILL_WAIT_MILLIS * 1_000_000L;
        while (filling > 0) {
            long left = (deadline - System.nanoTime()) / 1_000_000L;
            if (left <= 0) {
                LOG.error("{}: {} event buffer fill(s) still in progress after {} ms", name, filling, FILL_WAIT_MILLIS);
                break;
            }
            try {
                wait(left);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        return l;
    }

    /** Device reset: no buffers, nothing missed. */
    synchronized void reset() {
        forgetBuffers();
        missed = false;
    }

    synchronized int postedBuffers() {
        return buffers.size();
    }

    synchronized boolean eventsMissed() {
        return missed;
    }

    synchronized long sentEvents() {
        return sent;
    }

    synchronized long droppedEvents() {
        return dropped;
    }
}
