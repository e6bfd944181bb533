package io.jvirtio.core.mem;

/**
 * A backend's view of the memory domain: vhost-user re-sends its memory table or uses
 * ADD_MEM_REG/REM_MEM_REG, VFIO maps or unmaps DMA. Called with the domain's lock held, on the
 * allocating thread, before the new memory is handed out.
 */
public interface MemoryListener {
    /** A region was added; the device must be able to reach it before this returns. */
    void regionAdded(MemoryRegion region);

    /** A region is about to be unmapped; the device must stop using it before this returns. */
    void regionRemoved(MemoryRegion region);
}
