package io.jvirtio.core.vhostuser;

import io.jvirtio.spec.ring.PackedRingLayout;
import io.jvirtio.spec.vhostuser.VhostUserRequest;
import io.jvirtio.spec.vhostuser.VhostUserVringAddr;
import io.jvirtio.spec.vhostuser.VhostUserVringFile;
import io.jvirtio.spec.vhostuser.VhostUserVringState;
import io.jvirtio.spec.vhostuser.VhostUserException;

import io.jvirtio.core.QueueSetup;
import io.jvirtio.sys.Native;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import io.jvirtio.sys.Native;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The queue table of one {@link VhostUserFrontend}: which queues are set up, their eventfds, and
 * the messages that start (CALL, NUM, BASE, ADDR, KICK, ENABLE) and stop (GET_VRING_BASE) them.
 * The kick fds live in a plain array indexed by queue for the allocation-free
 * {@link #kickFd(int)} lookup. Not thread-safe: the backend serialises setup calls.
 */
final class VhostUserQueues {
    private static final Logger LOG = LoggerFactory.getLogger(VhostUserQueues.class);

    /** Split-ring element sizes and alignments (virtio 1.x, 2.7 "Split Virtqueues"). */
    static final long DESC_SIZE = 16;
    static final long DESC_ALIGN = 16;
    static final long AVAIL_HEADER = 6;
    static final long AVAIL_ELEM = 2;
    static final long AVAIL_ALIGN = 2;
    static final long USED_HEADER = 6;
    static final long USED_ELEM = 8;
    static final long USED_ALIGN = 4;
    /** Split ring indices are 16 bits. */
    static final int MAX_RING_INDEX = 0xffff;

    private VhostUserConnection conn;
    private final String prefix;
    private final VhostUserQueue[] queues;
    /** Read on the I/O path: -1 where no queue is set up. */
    private final int[] kickFds;
    private final int[] callFds;
    /** GET_VRING_BASE of queues stopped by {@link #stopAll()}, until {@link #delete} collects it; -1 otherwise. */
    private final int[] stoppedBase;
    /**
     * Kick eventfds of released queues, closed only by {@link #closeRetired()} at destruct: a channel
     * thread may have loaded the fd number just before the release and write to it after; an open
     * eventfd absorbs that write, a closed (and reused) fd number would not.
     */
    private final List<Integer> retiredKickFds = new ArrayList<>();

    VhostUserQueues(VhostUserConnection conn, int capacity) {
        this.conn = conn;
        this.prefix = "vhost-user " + conn.path() + ": ";
        this.queues = new VhostUserQueue[capacity];
        this.kickFds = new int[capacity];
        this.callFds = new int[capacity];
        this.stoppedBase = new int[capacity];
        Arrays.fill(kickFds, -1);
        Arrays.fill(callFds, -1);
        Arrays.fill(stoppedBase, -1);
    }

    /** After a reconnect: the queues are set up again on the new connection. */
    void useConnection(VhostUserConnection fresh) {
        this.conn = fresh;
    }

    /** @return the kick eventfd of {@code index}, or -1 when it is not set up (no bounds exception) */
    int kickFd(int index) {
        return index >= 0 && index < kickFds.length ? kickFds[index] : -1;
    }

    /** @return the call eventfd of {@code index}, or -1 when it is not set up */
    int callFd(int index) {
        return index >= 0 && index < callFds.length ? callFds[index] : -1;
    }

    /**
     * Checks a queue's size, base and ring addresses: aligned as its ring format requires and inside
     * memory the back-end maps.
     */
    void validate(QueueSetup q, int maxQueueSize, VhostUserMemory memory, String domainName) {
        int size = q.size();
        if (q.packed()) {
            validatePacked(q, maxQueueSize, memory, domainName);
            return;
        }
        if (size < 1 || size > maxQueueSize || Integer.bitCount(size) != 1) {
            throw new IllegalArgumentException(prefix + "queue " + q.index() + " size " + size + " is not a power of two in 1.."
                    + maxQueueSize);
        }
        if (q.availIndex() < 0 || q.availIndex() > MAX_RING_INDEX) {
            throw new IllegalArgumentException(prefix + "queue " + q.index() + " avail index " + q.availIndex() + " is not 16-bit");
        }
        checkRingPart(q, "descriptor table", q.descAddress(), DESC_SIZE * size, DESC_ALIGN, memory, domainName);
        checkRingPart(q, "avail ring", q.availAddress(), AVAIL_HEADER + AVAIL_ELEM * size, AVAIL_ALIGN, memory, domainName);
        checkRingPart(q, "used ring", q.usedAddress(), USED_HEADER + USED_ELEM * size, USED_ALIGN, memory, domainName);
    }

    /** A packed ring: descriptor ring 16-aligned, the two 4-byte event suppression structures 4-aligned (virtio 1.2 2.8.10). */
    private void validatePacked(QueueSetup q, int maxQueueSize, VhostUserMemory memory, String domainName) {
        int size = q.size();
        if (size < 1 || size > Math.min(maxQueueSize, PackedRingLayout.VIRTQUEUE_MAX_SIZE)) {
            throw new IllegalArgumentException(prefix + "packed queue " + q.index() + " size " + size + " is not in 1.."
                    + Math.min(maxQueueSize, PackedRingLayout.VIRTQUEUE_MAX_SIZE));
        }
        if (q.availIndex() < 0 || q.availIndex() > MAX_RING_INDEX) {
            throw new IllegalArgumentException(prefix + "packed queue " + q.index() + " base " + q.availIndex()
                    + " is not 16-bit (slot in bits 0..14, wrap counter in bit 15)");
        }
        if ((q.availIndex() & PackedRingLayout.RING_EVENT_OFFSET_MASK) >= size) {
            throw new IllegalArgumentException(prefix + "packed queue " + q.index() + " base 0x" + Integer.toHexString(q.availIndex())
                    + " names slot " + (q.availIndex() & PackedRingLayout.RING_EVENT_OFFSET_MASK) + " of a ring of " + size);
        }
        checkRingPart(q, "descriptor ring", q.descAddress(), (long) PackedRingLayout.DESC_SIZE * size, PackedRingLayout.DESC_SIZE,
                memory, domainName);
        checkRingPart(q, "driver area", q.availAddress(), PackedRingLayout.EVENT_SUPPRESS_SIZE, PackedRingLayout.EVENT_SUPPRESS_SIZE,
                memory, domainName);
        checkRingPart(q, "device area", q.usedAddress(), PackedRingLayout.EVENT_SUPPRESS_SIZE, PackedRingLayout.EVENT_SUPPRESS_SIZE,
                memory, domainName);
    }

    private void checkRingPart(QueueSetup q, String part, long address, long length, long align, VhostUserMemory memory,
                               String domainName) {
        if (address == 0 || (address & (align - 1)) != 0) {
            throw new IllegalArgumentException(prefix + "queue " + q.index() + " " + part + " address 0x" + Long.toHexString(address)
                    + " is not " + align + "-byte aligned");
        }
        if (!memory.contains(address, length)) {
            throw new IllegalArgumentException(prefix + "queue " + q.index() + " " + part + " [0x" + Long.toHexString(address) + ", +"
                    + length + ") is not inside the memory domain " + domainName + ": the back-end could not reach it");
        }
    }

    /**
     * Records a (validated) queue and creates its eventfds, replacing a stopped queue of the same
     * index.
     *
     * @return the queue
     */
    VhostUserQueue add(QueueSetup q) {
        int i = q.index();
        VhostUserQueue old = queues[i];
        if (old != null && old.started) {
            throw VhostUserException.invalidOperation(prefix + "queue " + i + " is running; delete it before setting it up again");
        }
        if (old != null) {
            release(old);
        }
        VhostUserQueue vq = VhostUserQueue.create(q);
        queues[i] = vq;
        callFds[i] = vq.callFd;
        kickFds[i] = vq.kickFd;
        stoppedBase[i] = -1;
        LOG.debug("{}set up {}", prefix, vq);
        return vq;
    }

    /** @return one more than the highest queue index set up (the count INFLIGHT_SHMFD covers), 0 when none */
    int span() {
        for (int i = queues.length - 1; i >= 0; i--) {
            if (queues[i] != null) {
                return i + 1;
            }
        }
        return 0;
    }

    /** @return the largest size of the queues set up */
    int largestSize() {
        int m = 0;
        for (VhostUserQueue vq : queues) {
            if (vq != null) {
                m = Math.max(m, vq.setup.size());
            }
        }
        return m;
    }

    /** Starts every queue set up. */
    void startAll(boolean enable) {
        for (VhostUserQueue vq : queues) {
            if (vq != null) {
                start(vq, enable);
            }
        }
    }

    /**
     * Starts one queue as SPDK does: CALL, NUM, BASE, ADDR, then KICK (the back-end starts the ring
     * on it), then ENABLE when protocol features were negotiated.
     */
    void start(VhostUserQueue vq, boolean enable) {
        QueueSetup q = vq.setup;
        int i = q.index();
        conn.send(VhostUserRequest.SET_VRING_CALL, new VhostUserVringFile(i, false), vq.callFd);
        conn.send(VhostUserRequest.SET_VRING_NUM, new VhostUserVringState(i, q.size()));
        conn.send(VhostUserRequest.SET_VRING_BASE, new VhostUserVringState(i, q.availIndex()));
        conn.send(VhostUserRequest.SET_VRING_ADDR, new VhostUserVringAddr(i, 0, q.descAddress(), q.usedAddress(), q.availAddress(), 0));
        conn.send(VhostUserRequest.SET_VRING_KICK, new VhostUserVringFile(i, false), vq.kickFd);
        vq.started = true;
        if (enable) {
            conn.send(VhostUserRequest.SET_VRING_ENABLE, new VhostUserVringState(i, 1));
        }
    }

    /** GET_VRING_BASE: the back-end stops the ring and says where it stopped. */
    private int stop(VhostUserQueue vq) {
        int i = vq.index();
        vq.started = false;
        VhostUserVringState st = conn.call(VhostUserRequest.GET_VRING_BASE, new VhostUserVringState(i, 0), VhostUserVringState::decode);
        if (vq.setup.packed() && st.index() == i) {
            // QEMU's packed encoding may carry the used position in bits 16..31; the avail position is the low half.
            LOG.debug("{}packed queue {} stopped at base 0x{}", prefix, i, Integer.toHexString(st.num()));
            return st.num() & MAX_RING_INDEX;
        }
        if (st.index() != i || st.num() < 0 || st.num() > MAX_RING_INDEX) {
            throw VhostUserException.protocolError(prefix + VhostUserRequest.GET_VRING_BASE + " for queue " + i + " answered " + st
                    + ", expected index " + i + " and a 16-bit base");
        }
        LOG.debug("{}queue {} stopped at avail index {}", prefix, i, st.num());
        return st.num();
    }

    /**
     * Stops every queue the back-end runs (every queue that got its KICK), remembering where each
     * stopped; tries them all and throws the first failure.
     */
    void stopAll() {
        RuntimeException first = null;
        for (VhostUserQueue vq : queues) {
            if (vq != null && vq.started) {
                try {
                    stoppedBase[vq.index()] = stop(vq);
                } catch (RuntimeException e) {
                    if (first == null) {
                        first = e;
                    }
                }
            }
        }
        if (first != null) {
            throw first;
        }
    }

    /**
     * Stops (when running and {@code canTalk}) and forgets a queue.
     *
     * @return where it stopped: GET_VRING_BASE now, or as recorded by {@link #stopAll()}; -1 when unknown
     */
    int delete(int index, boolean canTalk) {
        VhostUserQueue vq = queues[index];
        if (vq == null) {
            int base = stoppedBase[index];
            stoppedBase[index] = -1;
            return base;
        }
        try {
            return vq.started && canTalk ? stop(vq) : -1;
        } finally {
            release(vq);
        }
    }

    /** Closes every queue's eventfds and forgets the queues (recorded bases stay). */
    void releaseAll() {
        for (VhostUserQueue vq : queues) {
            if (vq != null) {
                release(vq);
            }
        }
    }

    private void release(VhostUserQueue vq) {
        int i = vq.index();
        kickFds[i] = -1;
        callFds[i] = -1;
        queues[i] = null;
        retiredKickFds.add(vq.kickFd);
        vq.closeCallFd();
    }

    /** Closes the kick eventfds of released queues: only once no thread can kick any more. */
    void closeRetired() {
        for (int fd : retiredKickFds) {
            Native.closeQuietly(fd);
        }
        retiredKickFds.clear();
    }
}
