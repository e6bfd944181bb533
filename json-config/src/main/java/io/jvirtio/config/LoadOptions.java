package io.jvirtio.config;

/**
 * How {@link ConfigLoader} treats a config.
 *
 * @param skipUnsupportedMethods when true, bdev methods jvirtio cannot carry out (ones that create
 *                               bdevs of other kinds, such as {@code bdev_malloc_create} or
 *                               {@code bdev_nvme_attach_controller}, or configure what jvirtio does
 *                               not have, such as {@code bdev_set_qos_limit}) are skipped with a
 *                               warning naming each; when false (the default) the first one is an
 *                               error. Unknown methods are an error either way.
 */
public record LoadOptions(boolean skipUnsupportedMethods) {
    /** @return fail on unsupported methods */
    public static LoadOptions defaults() {
        return new LoadOptions(false);
    }

    /** @return skip unsupported methods with a warning */
    public static LoadOptions skippingUnsupportedMethods() {
        return new LoadOptions(true);
    }
}
