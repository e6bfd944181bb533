package io.jvirtio.bdev.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** A virtio device was attached: a virtio-blk bdev, or a virtio-scsi controller (its LUNs follow). */
@Name(AttachEvent.NAME)
@Label("Attach")
@Category("jvirtio")
@Description("A virtio-blk device or virtio-scsi controller was attached; the duration is the attach")
public final class AttachEvent extends jdk.jfr.Event {
    /** the event's JFR name */
    public static final String NAME = "io.jvirtio.Attach";

    @Label("Name")
    @Description("the bdev (virtio-blk) or controller (virtio-scsi) name")
    public String name;
    @Label("Device Type")
    @Description("blk or scsi")
    public String deviceType;
    @Label("Request Queues")
    public int requestQueues;
    @Label("Queue Size")
    public int queueSize;
    @Label("Bdevs")
    @Description("the bdevs it brought: 1 for blk, the LUNs found for scsi")
    public int bdevs;
}
