package io.jvirtio.backend.testing;

import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.sys.LinuxConstants;
import io.jvirtio.sys.Native;
import io.jvirtio.spec.vhostuser.VhostUserRequest;
import io.jvirtio.spec.vhostuser.VhostUserVringAddr;
import io.jvirtio.spec.vhostuser.VhostUserVringFile;
import io.jvirtio.spec.vhostuser.VhostUserVringState;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.VarHandle;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static io.jvirtio.spec.ring.SplitRingLayout.*;

/**
 * A deliberately simple driver side of one split ring, for scripted tests: lays the ring out in
 * front-end memory, builds direct or indirect chains (or any bytes a test wants), publishes heads
 * and kicks, and reads used elements. Independent of jvirtio's driver (SplitVirtqueue), so the
 * target is also checked against a second reading of the spec.
 */
public final class DriverRing implements AutoCloseable {
    private static final VarHandle U16 = LE_SHORT.varHandle().withInvokeExactBehavior();

    /** A buffer of a chain. */
    public record Buf(MemorySegment seg, boolean writable) {
        public static Buf out(MemorySegment s) {
            return new Buf(s, false);
        }

        public static Buf in(MemorySegment s) {
            return new Buf(s, true);
        }
    }

    /** A used element. */
    public record Used(int id, int len) {
    }

    public final int index;
    public final int size;
    private final MemoryDomain domain;
    private final MemorySegment ring;
    private final MemorySegment desc;
    private final MemorySegment avail;
    private final MemorySegment used;
    private final int kickFd;
    private final int callFd;
    private final boolean[] free;
    private final List<List<Integer>> chains = new ArrayList<>();
    private final List<MemorySegment> indirectTables = new ArrayList<>();
    private int availIdx;
    private int lastUsed;
    private boolean started;

    public DriverRing(MemoryDomain domain, int index, int size) {
        this.domain = domain;
        this.index = index;
        this.size = size;
        this.ring = domain.allocate(totalBytes(size), VIRTIO_PCI_VRING_ALIGN);
        ring.fill((byte) 0);
        this.desc = ring.asSlice(0, (long) size * DESC_SIZE);
        this.avail = ring.asSlice(availOffset(size), availBytes(size));
        this.used = ring.asSlice(usedOffset(size), usedBytes(size));
        this.kickFd = Native.eventfd(0, LinuxConstants.EFD_NONBLOCK | LinuxConstants.EFD_CLOEXEC);
        this.callFd = Native.eventfd(0, LinuxConstants.EFD_NONBLOCK | LinuxConstants.EFD_CLOEXEC);
        this.free = new boolean[size];
        java.util.Arrays.fill(free, true);
        for (int i = 0; i < size; i++) {
            chains.add(null);
        }
    }

    public long descAddr() {
        return desc.address();
    }

    public long availAddr() {
        return avail.address();
    }

    public long usedAddr() {
        return used.address();
    }

    public VhostUserVringAddr addr() {
        return new VhostUserVringAddr(index, 0, descAddr(), usedAddr(), availAddr(), 0);
    }

    public int kickFd() {
        return kickFd;
    }

    public int callFd() {
        return callFd;
    }

    /** Sends CALL, NUM, BASE, ADDR, KICK and (with {@code enable}) ENABLE, as SPDK's order. */
    public void start(ScriptedFrontEnd fe, int base, boolean enable) throws IOException {
        fe.command(VhostUserRequest.SET_VRING_CALL, new VhostUserVringFile(index, false), callFd);
        fe.command(VhostUserRequest.SET_VRING_NUM, new VhostUserVringState(index, size));
        fe.command(VhostUserRequest.SET_VRING_BASE, new VhostUserVringState(index, base));
        fe.command(VhostUserRequest.SET_VRING_ADDR, addr());
        fe.command(VhostUserRequest.SET_VRING_KICK, new VhostUserVringFile(index, false), kickFd);
        if (enable) {
            fe.command(VhostUserRequest.SET_VRING_ENABLE, new VhostUserVringState(index, 1));
        }
        if (!started) {
            // a restart (a new connection, a resumed ring) keeps the driver's own indices
            availIdx = base;
            lastUsed = usedIdx();
            started = true;
        }
    }

    // ------------------------------------------------------------------ building chains

    private int takeDesc() {
        for (int i = 0; i < size; i++) {
            if (free[i]) {
                free[i] = false;
                return i;
            }
        }
        throw new IllegalStateException("ring " + index + " has no free descriptor");
    }

    /** Writes descriptor {@code i} of the ring (or of {@code table}) verbatim. */
    public static void writeDesc(MemorySegment table, int i, long addr, int len, int flags, int next) {
        long off = descOffset(i);
        table.set(LE_LONG, off + DESC_ADDR_OFFSET, addr);
        table.set(LE_INT, off + DESC_LEN_OFFSET, len);
        table.set(LE_SHORT, off + DESC_FLAGS_OFFSET, (short) flags);
        table.set(LE_SHORT, off + DESC_NEXT_OFFSET, (short) next);
    }

    /** @return the descriptor table, for tests that write malformed descriptors */
    public MemorySegment descTable() {
        return desc;
    }

    /** Builds a chain (not yet published). @return its head */
    public int add(boolean indirect, Buf... bufs) {
        List<Integer> used = new ArrayList<>();
        if (indirect) {
            int head = takeDesc();
            used.add(head);
            MemorySegment table = domain.allocate((long) bufs.length * DESC_SIZE, DESC_SIZE);
            indirectTables.add(table);
            for (int i = 0; i < bufs.length; i++) {
                boolean last = i == bufs.length - 1;
                writeDesc(table, i, bufs[i].seg().address(), (int) bufs[i].seg().byteSize(),
                        (bufs[i].writable() ? VRING_DESC_F_WRITE : 0) | (last ? 0 : VRING_DESC_F_NEXT), last ? 0 : i + 1);
            }
            writeDesc(desc, head, table.address(), (int) table.byteSize(), VRING_DESC_F_INDIRECT, 0);
            chains.set(head, used);
            return head;
        }
        int[] ids = new int[bufs.length];
        for (int i = 0; i < bufs.length; i++) {
            ids[i] = takeDesc();
            used.add(ids[i]);
        }
        for (int i = 0; i < bufs.length; i++) {
            boolean last = i == bufs.length - 1;
            writeDesc(desc, ids[i], bufs[i].seg().address(), (int) bufs[i].seg().byteSize(),
                    (bufs[i].writable() ? VRING_DESC_F_WRITE : 0) | (last ? 0 : VRING_DESC_F_NEXT), last ? 0 : ids[i + 1]);
        }
        chains.set(ids[0], used);
        return ids[0];
    }

    /** Puts {@code head} in the avail ring and publishes avail.idx (release). */
    public void publish(int head) {
        avail.set(LE_SHORT, availRingOffset(availIdx & (size - 1)), (short) head);
        availIdx = (availIdx + 1) & RING_INDEX_MASK;
        U16.setRelease(avail, (long) AVAIL_IDX_OFFSET, (short) availIdx);
        VarHandle.fullFence();
    }

    /**
     * Writes {@code head} into the next {@code count} avail slots and publishes avail.idx once (so a
     * device never sees a partial batch; {@code count} may exceed the ring size, to break the rules).
     */
    public void publishMany(int head, int count) {
        for (int i = 0; i < count; i++) {
            avail.set(LE_SHORT, availRingOffset((availIdx + i) & (size - 1)), (short) head);
        }
        availIdx = (availIdx + count) & RING_INDEX_MASK;
        U16.setRelease(avail, (long) AVAIL_IDX_OFFSET, (short) availIdx);
        VarHandle.fullFence();
    }

    /** Kicks the device. */
    public void kick() {
        Native.eventfdWrite(kickFd, 1);
    }

    /** add + publish + kick. @return the head */
    public int submit(boolean indirect, Buf... bufs) {
        int head = add(indirect, bufs);
        publish(head);
        kick();
        return head;
    }

    /** @return the avail index the driver published */
    public int availIdx() {
        return availIdx;
    }

    /** Sets avail.flags (VRING_AVAIL_F_NO_INTERRUPT). */
    public void setAvailFlags(int flags) {
        U16.setRelease(avail, (long) AVAIL_FLAGS_OFFSET, (short) flags);
    }

    /** Sets used_event (EVENT_IDX). */
    public void setUsedEvent(int idx) {
        U16.setRelease(avail, usedEventOffset(size), (short) idx);
        VarHandle.fullFence();
    }

    /** @return the device's avail_event (EVENT_IDX) */
    public int availEvent() {
        return Short.toUnsignedInt((short) U16.getAcquire(used, availEventOffset(size)));
    }

    /** @return used.flags */
    public int usedFlags() {
        return Short.toUnsignedInt((short) U16.getAcquire(used, (long) USED_FLAGS_OFFSET));
    }

    // ------------------------------------------------------------------ used side

    public int usedIdx() {
        return Short.toUnsignedInt((short) U16.getAcquire(used, (long) USED_IDX_OFFSET));
    }

    /** @return the next used element, or null when none arrives within {@code timeout} */
    public Used pollUsed(Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (usedIdx() == lastUsed) {
            if (System.nanoTime() > deadline) {
                return null;
            }
            Thread.onSpinWait();
            Thread.yield();
        }
        long off = usedRingOffset(lastUsed & (size - 1));
        Used u = new Used(used.get(LE_INT, off + USED_ELEMENT_ID_OFFSET), used.get(LE_INT, off + USED_ELEMENT_LEN_OFFSET));
        lastUsed = (lastUsed + 1) & RING_INDEX_MASK;
        if (u.id() >= 0 && u.id() < size && chains.get(u.id()) != null) {
            for (int d : chains.get(u.id())) {
                free[d] = true;
            }
            chains.set(u.id(), null);
        }
        return u;
    }

    /** @return the next used element; fails the test when none comes within 5 s */
    public Used awaitUsed() {
        Used u = pollUsed(Duration.ofSeconds(5));
        if (u == null) {
            throw new AssertionError("ring " + index + ": no used element within 5 s (used.idx " + usedIdx() + ", avail.idx " + availIdx + ")");
        }
        return u;
    }

    /** @return how many times the device signalled the call eventfd since the last call (0 if not) */
    public long takeCalls() {
        return Native.eventfdRead(callFd);
    }

    @Override
    public void close() {
        Native.closeQuietly(kickFd);
        Native.closeQuietly(callFd);
    }
}
