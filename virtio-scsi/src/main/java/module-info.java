/** virtio-scsi controllers: target and LUN scan, one bdev per LUN, task management, hot-plug events. */
module io.jvirtio.scsi {
    requires transitive io.jvirtio.bdev;
    requires transitive io.jvirtio.core;
    requires org.slf4j;

    exports io.jvirtio.scsi;
}
