package io.jvirtio.backend.vhost;

import io.jvirtio.backend.TargetOptions;
import io.jvirtio.backend.device.VirtioDeviceModel;
import io.jvirtio.backend.fault.FaultInjector;

import java.util.concurrent.ScheduledExecutorService;

/** What a connection needs from the device it serves (one device, connections one after the other). */
public interface DeviceContext {
    /** @return the device name for logs and threads */
    String name();

    /** @return the device model */
    VirtioDeviceModel model();

    /** @return the device's fault injector */
    FaultInjector faults();

    /** @return the transport options */
    TargetOptions options();

    /** @return the executor for delayed completions */
    ScheduledExecutorService scheduler();

    /** Records why a connection ended with an error (for tests and status). */
    void connectionFailed(String reason);
}
