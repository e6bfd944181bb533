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
        Map<String, Object> transport = device.backend().writeJsonConfig();
        String trtype = String.valueOf(transport.get("trtype"));
        String traddr = String.valueOf(transport.get("traddr"));
        Transport t = Transport.fromSpdkName(trtype).orElseThrow(
                () -> new IllegalStateException(name() + ": transport writes trtype " + trtype + ", which save_config cannot express"));
        return t == Transport.USER
                ? new ControllerParams(name(), devType(), t, traddr, device.queueCount() - device.fixedQueues(), device.queue(0).size())
                : ControllerParams.pci(name(), devType(), traddr);
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
}
