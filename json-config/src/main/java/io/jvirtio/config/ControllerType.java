package io.jvirtio.config;

/**
 * A kind of virtio controller, keyed by SPDK's {@code dev_type} ({@code blk}, {@code scsi}): turns
 * checked {@link ControllerParams} into an attached {@link Controller}. Implementations register
 * through {@link java.util.ServiceLoader} ({@code META-INF/services/io.jvirtio.config.ControllerType})
 * and need a public no-argument constructor there; {@link ControllerTypes#of} takes configured ones.
 *
 * <p>Errors about a param are {@link ConfigException}s whose path is relative to the params object
 * (e.g. {@code JsonPath.of("traddr")}); the registry re-bases them onto the config entry. Any other
 * {@link io.jvirtio.spec.VirtioException} is reported against the whole entry.
 */
public interface ControllerType {
    /** @return SPDK's {@code dev_type} this type handles */
    String devType();

    /**
     * Checks what the common rules of {@link ControllerParams} do not (a transport this type cannot
     * reach yet, ...), before anything is attached. Touches no device.
     *
     * @throws ConfigException with a path relative to the params object
     */
    default void validate(ControllerParams params) {
    }

    /**
     * Attaches the controller and discovers its bdevs. On failure nothing stays open.
     *
     * @param params checked params, {@link ControllerParams#devType()} equal to {@link #devType()}
     * @return the attached controller, with at least one bdev
     * @throws ConfigException             about a param (path relative to the params object)
     * @throws io.jvirtio.spec.VirtioException when the device cannot be attached
     */
    Controller attach(ControllerParams params);
}
