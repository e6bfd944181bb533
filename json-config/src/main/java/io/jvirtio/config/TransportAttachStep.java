package io.jvirtio.config;

import io.jvirtio.core.DriverAttach;
import io.jvirtio.core.mem.HugePagePolicy;

/**
 * How a controller type reaches its device for one {@code trtype}: open the transport with a memory
 * domain of the controller's own and run the driver's attach on it, turning a failure to reach the
 * device into a {@link ConfigException} on {@code traddr} that names the controller and the address.
 * On failure nothing stays open.
 */
interface TransportAttachStep {
    /**
     * @param params      the controller's checked params ({@code trtype} this step's)
     * @param memoryBytes the device memory domain's size
     * @param hugePages   how the domain is backed
     * @param driver      the driver's attach; its own failures pass unchanged
     * @throws ConfigException against {@code traddr} when the device cannot be reached
     */
    <T> T attach(ControllerParams params, long memoryBytes, HugePagePolicy hugePages, DriverAttach<T> driver);
}
