package io.jvirtio.config;

import java.util.Optional;

/** SPDK's {@code trtype} of {@code bdev_virtio_attach_controller}: how the controller is reached. */
public enum Transport {
    /** vhost-user: {@code traddr} is the target's unix socket; {@code vq_count} and {@code vq_size} apply. */
    USER("user"),
    /** virtio-pci (modern) over VFIO: {@code traddr} is a PCI address such as {@code 0000:00:04.0}. */
    PCI("pci");

    private final String spdkName;

    Transport(String spdkName) {
        this.spdkName = spdkName;
    }

    /** @return the {@code trtype} value SPDK uses */
    public String spdkName() {
        return spdkName;
    }

    /**
     * @param trtype a {@code trtype} value; compared exactly, as SPDK does ({@code strcmp})
     * @return the transport, or empty
     */
    public static Optional<Transport> fromSpdkName(String trtype) {
        for (Transport t : values()) {
            if (t.spdkName.equals(trtype)) {
                return Optional.of(t);
            }
        }
        return Optional.empty();
    }
}
