package io.jvirtio.backend.fault;

import io.jvirtio.backend.device.DeviceRequest;

/**
 * Implemented by device models that can fail a request on purpose, in their own terms, when the
 * {@link FaultInjector} asks for it ({@link FaultInjector#failNextRequests}). A model that does not
 * implement it handles every request normally.
 */
public interface FaultAwareModel {
    /**
     * Completes {@code request} with the device's error for {@code error} instead of executing it.
     *
     * @return true when the request was failed (and completed); false when this request is not one
     *         that can fail (e.g. a scsi control-queue request): the transport then hands it to
     *         {@code handle} and keeps the fault for a later request
     */
    boolean failRequest(DeviceRequest request, InjectedError error);
}
