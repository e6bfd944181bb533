package io.jvirtio.backend.testing;

import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.core.mem.MemoryDomain;
import io.jvirtio.core.mem.MemoryRegion;
import io.jvirtio.spec.vhostuser.VhostUserMemoryRegion;
import io.jvirtio.spec.vhostuser.VhostUserMemoryTable;
import io.jvirtio.spec.vhostuser.VhostUserRequest;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** Front-end memory for scripted tests: a memory domain and the messages that share it (gpa = uva = address). */
public final class FrontEndMemory implements AutoCloseable {
    private final MemoryDomain domain;

    public FrontEndMemory(String name, long bytes) {
        this.domain = MemoryDomain.create(name, bytes, HugePagePolicy.NEVER);
    }

    public MemoryDomain domain() {
        return domain;
    }

    public static VhostUserMemoryRegion wire(MemoryRegion r) {
        return new VhostUserMemoryRegion(r.address(), r.length(), r.address(), r.fdOffset());
    }

    /** @return the SET_MEM_TABLE payload of every region */
    public VhostUserMemoryTable table() {
        List<VhostUserMemoryRegion> list = new ArrayList<>();
        for (MemoryRegion r : domain.regions()) {
            list.add(wire(r));
        }
        return new VhostUserMemoryTable(list);
    }

    /** @return the fds of every region, in table order */
    public int[] fds() {
        return domain.regions().stream().mapToInt(MemoryRegion::fd).toArray();
    }

    /** Sends SET_MEM_TABLE with every region. */
    public void share(ScriptedFrontEnd fe) throws IOException {
        fe.command(VhostUserRequest.SET_MEM_TABLE, table(), fds());
    }

    @Override
    public void close() {
        domain.close();
    }
}
