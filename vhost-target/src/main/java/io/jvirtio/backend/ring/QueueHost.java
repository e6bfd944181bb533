package io.jvirtio.backend.ring;

import io.jvirtio.backend.device.VirtioDeviceModel;
import io.jvirtio.backend.fault.FaultInjector;

import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.locks.ReadWriteLock;

/** What a queue needs from the connection that owns it. */
public interface QueueHost {
    /** @return the device model requests go to */
    VirtioDeviceModel model();

    /** @return the device's fault injector */
    FaultInjector faults();

    /** @return the executor that runs delayed completions */
    ScheduledExecutorService scheduler();

    /**
     * @return the lock that guards the memory mappings: queue threads hold the read lock while they
     *         touch front-end memory, a memory-table change takes the write lock
     */
    ReadWriteLock memoryLock();

    /** @return a name for logs and threads, e.g. {@code blk0} */
    String name();

    /**
     * The connection must end: a driver error or an injected drop. Called from queue threads;
     * returns at once (the connection's own thread cleans up).
     *
     * @param queue  the queue that saw it, or -1
     * @param reason what happened, naming the values
     * @param driverError whether the driver broke the rules (signalled on the queue's err eventfd)
     */
    void abortConnection(int queue, String reason, boolean driverError);
}
