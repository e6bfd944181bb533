package io.jvirtio.bdev.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** A virtio device was detached (closed): a virtio-blk bdev, or a virtio-scsi controller. */
@Name(DetachEvent.NAME)
@Label("Detach")
@Category("jvirtio")
@Description("A virtio-blk device or virtio-scsi controller was closed; the duration is the close")
public final class DetachEvent extends jdk.jfr.Event {
    /** the event's JFR name */
    public static final String NAME = "io.jvirtio.Detach";

    @Label("Name")
    public String name;
    @Label("Device Type")
    @Description("blk or scsi")
    public String deviceType;
}
