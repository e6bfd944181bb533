package io.jvirtio.backend;

import io.jvirtio.backend.device.VirtioDeviceModel;

import java.util.List;

/**
 * A kind of device the target can serve, as named on the command line ({@code --blk SPEC},
 * {@code --scsi SPEC}). Built-in: {@code blk}. Others register with {@link DeviceTypes#register} or
 * through {@link java.util.ServiceLoader} ({@code META-INF/services/io.jvirtio.backend.DeviceType}).
 */
public interface DeviceType {
    /** @return the option name without dashes, e.g. {@code blk} for {@code --blk} */
    String name();

    /** @return one usage line for {@code --help}, e.g. {@code ram:SIZE|file:PATH[,bs=512|4096][,ro]...} */
    String usage();

    /**
     * Parses a spec and opens the device (and its storage).
     *
     * @param deviceName the device's name (logs, serials)
     * @param spec       the spec text, transport options already removed
     * @return the model and what to close with it
     * @throws IllegalArgumentException naming the bad option and its value
     */
    Opened open(String deviceName, String spec);

    /**
     * An opened device.
     *
     * @param model     the model to serve
     * @param resources what to close when the device stops (stores, files)
     */
    record Opened(VirtioDeviceModel model, List<AutoCloseable> resources) {
        /** Copies the resource list. */
        public Opened {
            resources = List.copyOf(resources);
        }
    }
}
