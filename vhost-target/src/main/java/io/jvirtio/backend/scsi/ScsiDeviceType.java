package io.jvirtio.backend.scsi;

import io.jvirtio.backend.DeviceType;

import java.util.ArrayList;
import java.util.List;

/**
 * {@code --scsi SPEC} for the standalone target: a virtio-scsi device as {@link ScsiDeviceSpec}
 * describes it, e.g. {@code --scsi ram:64M,targets=2,luns=2,bs=512/4096}.
 */
public final class ScsiDeviceType implements DeviceType {
    /** The {@code scsi} type (what {@code DeviceTypes} registers). */
    public ScsiDeviceType() {
    }

    @Override
    public String name() {
        return "scsi";
    }

    @Override
    public String usage() {
        return ScsiDeviceSpec.USAGE;
    }

    @Override
    public Opened open(String deviceName, String spec) {
        ScsiDeviceSpec.Instance i = ScsiDeviceSpec.parse(spec).open(deviceName);
        List<AutoCloseable> resources = new ArrayList<>(i.stores());
        return new Opened(i.model(), resources);
    }
}
