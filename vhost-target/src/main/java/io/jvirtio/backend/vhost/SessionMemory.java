package io.jvirtio.backend.vhost;

import io.jvirtio.spec.vhostuser.VhostUserMemoryRegion;
import io.jvirtio.backend.mem.GuestMemory;
import io.jvirtio.backend.mem.MappedRegion;
import io.jvirtio.backend.ring.DeviceQueue;
import io.jvirtio.backend.ring.VringSetup;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.locks.ReadWriteLock;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * The memory table of one connection and the rules for changing it while queues run: every change
 * is checked completely (overlaps, running rings still covered) before anything is applied; it is
 * applied under the write lock, so no queue thread and no completion touches memory meanwhile; a
 * region that leaves the table is unmapped at once when no request is in flight, else kept mapped
 * until the connection ends (a request the device still holds may point into it).
 */
final class SessionMemory implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(SessionMemory.class);

    private final String name;
    private final ReadWriteLock lock = new ReentrantReadWriteLock();
    private volatile GuestMemory table = GuestMemory.EMPTY;
    private final List<MappedRegion> retired = new ArrayList<>();

    SessionMemory(String name) {
        this.name = name;
    }

    ReadWriteLock lock() {
        return lock;
    }

    GuestMemory table() {
        return table;
    }

    /**
     * SET_MEM_TABLE: maps every region and replaces the table.
     *
     * @throws ProtocolException when regions overlap, a mapping fails or a running ring is left uncovered
     */
    void replace(List<VhostUserMemoryRegion> regions, int[] fds, Collection<DeviceQueue> running) throws ProtocolException {
        List<MappedRegion> mapped = new ArrayList<>();
        try {
            GuestMemory next = GuestMemory.EMPTY;
            for (int i = 0; i < regions.size(); i++) {
                VhostUserMemoryRegion r = regions.get(i);
                next.checkNoOverlap(r.guestPhysAddr(), r.userspaceAddr(), r.memorySize(), "SET_MEM_TABLE region " + i);
                MappedRegion m = mapOne("SET_MEM_TABLE region " + i, r, fds[i]);
                mapped.add(m);
                next = next.with(m);
            }
            apply("VHOST_USER_SET_MEM_TABLE", next, table.regions(), running);
        } catch (IllegalArgumentException e) {
            mapped.forEach(MappedRegion::unmap);
            throw new ProtocolException("VHOST_USER_SET_MEM_TABLE: " + e.getMessage());
        } catch (ProtocolException e) {
            mapped.forEach(MappedRegion::unmap);
            throw e;
        }
    }

    /** ADD_MEM_REG. */
    void add(VhostUserMemoryRegion r, int fd, int maxSlots, Collection<DeviceQueue> running) throws ProtocolException {
        GuestMemory cur = table;
        if (cur.size() >= maxSlots) {
            throw new ProtocolException("VHOST_USER_ADD_MEM_REG: " + r + " would be region " + (cur.size() + 1) + ", the back-end maps at most "
                    + maxSlots + " (GET_MAX_MEM_SLOTS)");
        }
        try {
            cur.checkNoOverlap(r.guestPhysAddr(), r.userspaceAddr(), r.memorySize(), null);
        } catch (IllegalArgumentException e) {
            throw new ProtocolException("VHOST_USER_ADD_MEM_REG: " + r + ": " + e.getMessage());
        }
        MappedRegion m = mapOne("VHOST_USER_ADD_MEM_REG", r, fd);
        try {
            apply("VHOST_USER_ADD_MEM_REG", cur.with(m), List.of(), running);
        } catch (ProtocolException | RuntimeException e) {
            m.unmap();
            throw e;
        }
    }

    /** REM_MEM_REG: the region is named by guest address, user address and size. */
    void remove(VhostUserMemoryRegion r, Collection<DeviceQueue> running) throws ProtocolException {
        GuestMemory cur = table;
        MappedRegion m = cur.find(r);
        if (m == null) {
            throw new ProtocolException("VHOST_USER_REM_MEM_REG: " + r + " matches no mapped region (" + cur.size() + " mapped)");
        }
        apply("VHOST_USER_REM_MEM_REG", cur.without(m), List.of(m), running);
    }

    private MappedRegion mapOne(String what, VhostUserMemoryRegion r, int fd) throws ProtocolException {
        if (fd < 0) {
            throw new ProtocolException(what + ": " + r + " came with an unusable file descriptor");
        }
        try {
            return MappedRegion.map(r, fd);
        } catch (RuntimeException e) {
            throw new ProtocolException(what + ": cannot map " + r + ": " + e.getMessage(), e);
        }
    }

    private void apply(String what, GuestMemory next, List<MappedRegion> leaving, Collection<DeviceQueue> running) throws ProtocolException {
        for (DeviceQueue q : running) {
            VringSetup s = q.setup();
            try {
                // a dry run: nothing changes unless every running ring stays covered
                DeviceQueue.checkCovered(s, next);
            } catch (IllegalArgumentException e) {
                throw new ProtocolException(what + ": the new memory table does not cover a running ring: " + e.getMessage());
            }
        }
        lock.writeLock().lock();
        try {
            for (DeviceQueue q : running) {
                q.remap(next);
            }
            table = next;
            int held = 0;
            for (DeviceQueue q : running) {
                held += q.inFlight();
            }
            for (MappedRegion m : leaving) {
                if (held == 0) {
                    m.unmap();
                } else {
                    retired.add(m);
                    LOG.debug("{}: {} left the table with {} request(s) in flight; unmapped when the connection ends", name, m, held);
                }
            }
        } finally {
            lock.writeLock().unlock();
        }
        LOG.debug("{}: {}: memory table now {}", name, what, next);
    }

    /** Unmaps everything; the caller has stopped every queue. */
    @Override
    public void close() {
        lock.writeLock().lock();
        try {
            for (MappedRegion m : table.regions()) {
                m.unmap();
            }
            retired.forEach(MappedRegion::unmap);
            retired.clear();
            table = GuestMemory.EMPTY;
        } finally {
            lock.writeLock().unlock();
        }
    }
}
