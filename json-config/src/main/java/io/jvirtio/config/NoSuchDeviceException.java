package io.jvirtio.config;

/**
 * A controller or bdev name that is not attached (SPDK answers {@code -19 "No such device"}).
 * The message names the name and what is attached.
 */
public class NoSuchDeviceException extends ConfigException {
    private static final long serialVersionUID = 1L;

    /**
     * @param path   where the name was given ({@link JsonPath#root()} for a direct call)
     * @param detail names the missing name and the attached ones
     */
    public NoSuchDeviceException(JsonPath path, String detail) {
        super(path, detail);
    }

    private NoSuchDeviceException(String source, JsonPath path, String detail) {
        super(source, path, detail, null);
    }

    @Override
    protected ConfigException copy(String newSource, JsonPath newPath, String newDetail) {
        return copyState(new NoSuchDeviceException(newSource, newPath, newDetail));
    }
}
