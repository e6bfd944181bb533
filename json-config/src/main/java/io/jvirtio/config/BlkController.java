package io.jvirtio.config;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.core.VirtioDevice;

import java.util.List;
import java.util.Map;

/** A virtio-blk controller: one {@link VirtioBlkDevice}, which is its only bdev. */
final class BlkController implements Controller {
    private final VirtioBlkDevice blk;

    BlkController(VirtioBlkDevice blk) {
        this.blk = blk;
    }

    @Override
    public String name() {
        return blk.name();
    }

    @Override
    public String devType() {
        return BlkControllerType.DEV_TYPE;
    }

    @Override
    public List<Bdev> bdevs() {
        return List.of(blk);
    }

    @Override
    public ControllerParams configParams() {
        VirtioDevice device = blk.device();
        return ControllerParams.ofAttached(name(), devType(), device.backend().writeJsonConfig(),
                device.queueCount() - device.fixedQueues(), device.queue(0).size(), device.reconnectPolicy());
    }

    @Override
    @SuppressWarnings("unchecked")
    public Map<String, Object> virtioInfo() {
        return (Map<String, Object>) blk.driverSpecificInfo().get("virtio");
    }

    @Override
    public void close() {
        blk.close();
    }

    @Override
    public String toString() {
        return "BlkController[" + blk + "]";
    }

    @Override
    public java.util.Optional<io.jvirtio.core.VirtioDevice> device() {
        return java.util.Optional.of(blk.device());
    }
}
