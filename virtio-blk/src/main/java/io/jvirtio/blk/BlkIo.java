package io.jvirtio.blk;

import io.jvirtio.bdev.driver.DriverIo;

import static io.jvirtio.spec.blk.VirtioBlkSpec.VIRTIO_BLK_T_GET_ID;

/**
 * One caller I/O on a {@link VirtioBlkChannel}. Besides the shared context it knows the virtio-blk
 * request type its requests carry and the next sector to submit. GET_ID has no SPDK I/O type: it is
 * a {@code READ} of the device's serial with its own request type, and names itself {@code get_id}.
 */
final class BlkIo extends DriverIo {
    /** the VIRTIO_BLK_T_* type of every request of this I/O; unused by a reset */
    int type;
    /** next 512-byte sector to submit */
    long sector;

    @Override
    public String opName() {
        return type == VIRTIO_BLK_T_GET_ID ? "get_id" : super.opName();
    }

    @Override
    protected void clear() {
        super.clear();
        type = -1;
    }
}
