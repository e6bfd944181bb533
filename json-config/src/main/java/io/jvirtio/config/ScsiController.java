package io.jvirtio.config;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.scsi.VirtioScsiController;

import java.util.List;
import java.util.Map;

/** A virtio-scsi controller: one {@link VirtioScsiController}, one bdev per LUN it currently exposes. */
final class ScsiController implements Controller {
    private final VirtioScsiController scsi;

    ScsiController(VirtioScsiController scsi) {
        this.scsi = scsi;
    }

    @Override
    public String name() {
        return scsi.name();
    }

    @Override
    public String devType() {
        return ScsiControllerType.DEV_TYPE;
    }

    /** @return the LUN bdevs now (hot-plug events add and remove them), by target then LUN */
    @Override
    public List<? extends Bdev> bdevs() {
        return scsi.bdevs();
    }

    @Override
    public ControllerParams configParams() {
        // vq_count: request queues only, as SPDK writes it (dump info's vq_count counts every queue).
        return ControllerParams.ofAttached(name(), devType(), scsi.device().backend().writeJsonConfig(),
                scsi.options().requestQueues(), ((Number) virtioInfo().get("vq_size")).intValue(), scsi.device().reconnectPolicy());
    }

    @Override
    @SuppressWarnings("unchecked")
    public Map<String, Object> virtioInfo() {
        return (Map<String, Object>) scsi.driverSpecificInfo().get("virtio");
    }

    @Override
    public void close() {
        scsi.close();
    }

    @Override
    public String toString() {
        return "ScsiController[" + scsi + "]";
    }

    @Override
    public java.util.Optional<io.jvirtio.core.VirtioDevice> device() {
        return java.util.Optional.of(scsi.device());
    }
}
