package io.jvirtio.scsi;

import io.jvirtio.spec.scsi.VirtioScsiSpec;

import io.jvirtio.spec.VirtioException;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.ring.Virtqueue;
import io.jvirtio.core.ring.UsedSink;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.lang.foreign.MemorySegment;
import java.util.List;

import static io.jvirtio.spec.scsi.VirtioScsiSpec.*;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;

/**
 * The event queue (queue 1): as SPDK, up to 16 buffers of {@code event_info_size} bytes are always
 * posted; each completed one is decoded and posted again before the event is acted upon. Driven
 * by {@link HotplugEvents}, under the controller's scan lock only.
 */
final class EventQueue implements UsedSink {
    private static final Logger LOG = LoggerFactory.getLogger(EventQueue.class);
    /** SPDK's {@code VIRTIO_SCSI_EVENTQ_BUFFER_COUNT}. */
    static final int BUFFERS = 16;

    /**
     * One decoded event.
     *
     * @param event  the event type without the EVENTS_MISSED flag
     * @param missed whether VIRTIO_SCSI_T_EVENTS_MISSED was set
     * @param target lun[1]
     * @param lun    the LUN number of lun[2..3] (single-level), or -1
     * @param reason the reason field
     */
    record Event(int event, boolean missed, int target, int lun, int reason) {
        @Override
        public String toString() {
            return VirtioScsiSpec.eventName(event | (missed ? VIRTIO_SCSI_T_EVENTS_MISSED : 0)) + " target " + target
                    + " lun " + lun + " reason " + reason;
        }
    }

    private final String name;
    private final Virtqueue vq;
    private final MemoryDomain memory;
    private final MemorySegment bufferMemory;
    private final MemorySegment[] buffers;
    private final int bufferSize;
    private List<Event> sink;
    private boolean broken;

    EventQueue(String name, Virtqueue vq, MemoryDomain memory, int bufferSize) {
        this.name = name;
        this.vq = vq;
        this.memory = memory;
        this.bufferSize = bufferSize;
        int n = Math.min(BUFFERS, vq.size());
        this.bufferMemory = memory.allocate((long) n * bufferSize, 64);
        this.buffers = new MemorySegment[n];
        for (int i = 0; i < n; i++) {
            buffers[i] = bufferMemory.asSlice((long) i * bufferSize, bufferSize);
        }
    }

    /** Posts every buffer; at attach. */
    void postAll() {
        for (MemorySegment b : buffers) {
            post(b);
        }
        vq.reqFlush();
    }

    private void post(MemorySegment b) {
        b.fill((byte) 0);
        if (!vq.reqStart(b, 1)) {
            throw new VirtioException(name + ": no room to post an event buffer on " + vq.name());
        }
        vq.reqAddIov(b.address(), bufferSize, true);
    }

    /**
     * Takes completed event buffers, decodes them into {@code out} and posts them again.
     *
     * @return how many buffers completed
     */
    int poll(List<Event> out) {
        if (broken || vq.isBroken()) {
            if (!broken) {
                broken = true;
                LOG.error("{}: event queue broken ({}); hot-plug events are no longer received", name, vq.brokenReason());
            }
            return 0;
        }
        sink = out;
        try {
            int n = vq.poll(BUFFERS, this);
            if (n > 0 && !vq.isBroken()) {
                vq.reqFlush();
            }
            return n;
        } finally {
            sink = null;
        }
    }

    /**
     * Takes every completed buffer (decoded into {@code out}) and posts each again; while the link is
     * down, so that the ring can be handed to the restarted target.
     *
     * @return how many buffers completed
     */
    int takeAll(List<Event> out) {
        int total = 0;
        int n;
        while ((n = poll(out)) > 0) {
            total += n;
        }
        return total;
    }

    @Override
    public void onUsed(Object cookie, int len) {
        MemorySegment b = (MemorySegment) cookie;
        if (len < EVENT_SIZE) {
            LOG.warn("{}: event of {} bytes (a virtio_scsi_event has {}); ignored", name, len, EVENT_SIZE);
        } else if (Byte.toUnsignedInt(b.get(JAVA_BYTE, EVENT_LUN)) != 1) {
            LOG.warn("{}: event with an invalid LUN field (lun[0] = {}); ignored", name, b.get(JAVA_BYTE, EVENT_LUN));
        } else {
            int raw = b.get(LE_INT, EVENT_EVENT);
            int target = Byte.toUnsignedInt(b.get(JAVA_BYTE, EVENT_LUN + 1));
            int lun = decodeLun(Byte.toUnsignedInt(b.get(JAVA_BYTE, EVENT_LUN + 2)), Byte.toUnsignedInt(b.get(JAVA_BYTE, EVENT_LUN + 3)));
            Event e = new Event(raw & ~VIRTIO_SCSI_T_EVENTS_MISSED, (raw & VIRTIO_SCSI_T_EVENTS_MISSED) != 0, target, lun,
                    b.get(LE_INT, EVENT_REASON));
            LOG.debug("{}: {}", name, e);
            sink.add(e);
        }
        post(b);
    }

    @Override
    public void onError(Object cookie, VirtioException error) {
        broken = true;
        LOG.error("{}: event queue failed: {}", name, error.getMessage());
    }

    /**
     * @return the LUN of a single-level LUN address (peripheral device addressing {@code 00 LL}, flat space
     *         {@code 01LLLLLL LLLLLLLL}), or -1 for another addressing method
     */
    static int decodeLun(int b0, int b1) {
        return switch (b0 >> 6) {
            case 0 -> (b0 & 0x3F) == 0 ? b1 : -1;
            case 1 -> ((b0 & 0x3F) << 8) | b1;
            default -> -1;
        };
    }

    Virtqueue queue() {
        return vq;
    }

    /** Returns the buffer memory; only once the device no longer touches the queue. */
    void free() {
        memory.free(bufferMemory);
    }
}
