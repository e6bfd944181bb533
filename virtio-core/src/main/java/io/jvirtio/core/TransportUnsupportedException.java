package io.jvirtio.core;

/**
 * The transport cannot do what was asked of it (SPDK's {@code -ENOTSUP} from a
 * {@code virtio_dev_ops} call): a vhost-user back-end without VHOST_USER_PROTOCOL_F_CONFIG has no
 * config space to read, or one refuses GET_CONFIG with an empty reply. The transport stays usable;
 * a driver may fall back (virtio-scsi takes SPDK's default config), where any other failure of the
 * same call is an error.
 */
public class TransportUnsupportedException extends DeviceException {
    private static final long serialVersionUID = 1L;

    /** @param message names the device or socket, what was asked and why the transport cannot */
    public TransportUnsupportedException(String message) {
        super(message);
    }
}
