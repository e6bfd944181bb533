package io.jvirtio.core.vhostuser;

import io.jvirtio.spec.vhostuser.VhostUserMemoryRegion;
import io.jvirtio.spec.vhostuser.VhostUserMemoryTable;
import io.jvirtio.spec.vhostuser.VhostUserRequest;
import io.jvirtio.spec.vhostuser.VhostUserSingleMemoryRegion;
import io.jvirtio.spec.vhostuser.VhostUserException;

import io.jvirtio.core.mem.MemoryRegion;

import java.util.ArrayList;
import java.util.List;

/**
 * The front-end's copy of the memory the back-end maps (the regions of a
 * {@link io.jvirtio.core.mem.MemoryDomain}), and the messages that share it: SET_MEM_TABLE for up to
 * 8 regions, ADD_MEM_REG / REM_MEM_REG when CONFIGURE_MEM_SLOTS was negotiated. Guest address =
 * user address = the region's virtual address; one fd per region.
 *
 * <p>Kept apart from the domain so that checks and messages never take the domain's lock (the
 * domain calls its listeners with that lock held). Not thread-safe: the backend serialises.
 */
final class VhostUserMemory {
    private final List<MemoryRegion> regions = new ArrayList<>();

    /** Adds a region unless one at the same address is known. @return whether it was new */
    boolean add(MemoryRegion region) {
        for (MemoryRegion r : regions) {
            if (r.address() == region.address()) {
                return false;
            }
        }
        regions.add(region);
        return true;
    }

    /** Forgets the region at {@code region.address()}. @return whether it was known */
    boolean remove(MemoryRegion region) {
        return regions.removeIf(r -> r.address() == region.address());
    }

    /** @return whether {@code [address, address+length)} lies inside one region */
    boolean contains(long address, long length) {
        for (MemoryRegion r : regions) {
            if (r.contains(address, length)) {
                return true;
            }
        }
        return false;
    }

    int size() {
        return regions.size();
    }

    static VhostUserMemoryRegion toWire(MemoryRegion r) {
        return new VhostUserMemoryRegion(r.address(), r.length(), r.address(), r.fdOffset());
    }

    /**
     * Shares every region: SET_MEM_TABLE with the first 8, ADD_MEM_REG for the rest.
     *
     * @param memSlots    whether CONFIGURE_MEM_SLOTS was negotiated
     * @param maxMemSlots the back-end's GET_MAX_MEM_SLOTS
     */
    void sendAll(VhostUserConnection conn, boolean memSlots, int maxMemSlots) {
        checkCapacity(conn, memSlots, maxMemSlots, regions.size());
        int inTable = Math.min(regions.size(), VhostUserMemoryTable.MAX_REGIONS);
        List<VhostUserMemoryRegion> table = new ArrayList<>(inTable);
        int[] fds = new int[inTable];
        for (int i = 0; i < inTable; i++) {
            table.add(toWire(regions.get(i)));
            fds[i] = regions.get(i).fd();
        }
        conn.send(VhostUserRequest.SET_MEM_TABLE, new VhostUserMemoryTable(table), fds);
        for (int i = inTable; i < regions.size(); i++) {
            sendAdd(conn, regions.get(i));
        }
        barrier(conn);
    }

    /** Shares a region added while the device runs: ADD_MEM_REG, or the whole table again. */
    void sendAdded(VhostUserConnection conn, MemoryRegion region, boolean memSlots, int maxMemSlots) {
        if (memSlots) {
            checkCapacity(conn, true, maxMemSlots, regions.size());
            sendAdd(conn, region);
            barrier(conn);
        } else {
            sendAll(conn, false, maxMemSlots);
        }
    }

    /** Withdraws a region while the device runs: REM_MEM_REG, or the whole table again. */
    void sendRemoved(VhostUserConnection conn, MemoryRegion region, boolean memSlots, int maxMemSlots) {
        if (memSlots) {
            conn.send(VhostUserRequest.REM_MEM_REG, new VhostUserSingleMemoryRegion(toWire(region)));
            barrier(conn);
        } else {
            sendAll(conn, false, maxMemSlots);
        }
    }

    private static void sendAdd(VhostUserConnection conn, MemoryRegion r) {
        conn.send(VhostUserRequest.ADD_MEM_REG, new VhostUserSingleMemoryRegion(toWire(r)), r.fd());
    }

    private static void checkCapacity(VhostUserConnection conn, boolean memSlots, int maxMemSlots, int count) {
        if (!memSlots && count > VhostUserMemoryTable.MAX_REGIONS) {
            throw VhostUserException.invalidOperation("vhost-user " + conn.path() + ": the memory domain has " + count
                    + " regions; SET_MEM_TABLE carries at most " + VhostUserMemoryTable.MAX_REGIONS
                    + " and the back-end did not negotiate CONFIGURE_MEM_SLOTS");
        }
        if (memSlots && count > maxMemSlots) {
            throw VhostUserException.invalidOperation("vhost-user " + conn.path() + ": the memory domain has " + count
                    + " regions; the back-end maps at most " + maxMemSlots + " (GET_MAX_MEM_SLOTS)");
        }
    }

    /**
     * Makes sure the back-end has processed the memory messages before the memory is used. With
     * REPLY_ACK the acks did it; without, a GET_FEATURES round trip does (messages are processed in
     * order), as SPDK's virtio_user does.
     */
    private static void barrier(VhostUserConnection conn) {
        if (!conn.replyAck()) {
            conn.callU64(VhostUserRequest.GET_FEATURES);
        }
    }
}
