/**
 * A vhost-user device (back-end) in Java: virtio-blk and virtio-scsi models over RAM or a file, the
 * server that serves them and fault injection. Guest memory, the device-side rings and the
 * vhost-user protocol engine are internal.
 */
module io.jvirtio.backend {
    requires transitive io.jvirtio.spec;
    requires org.slf4j;
    requires org.newsclub.net.unix;
    // RamBlockStore checks a size against the off-heap limit and the machine's memory before allocating
    requires java.management;
    requires jdk.management;

    exports io.jvirtio.backend;
    exports io.jvirtio.backend.blk;
    exports io.jvirtio.backend.device;
    exports io.jvirtio.backend.fault;
    exports io.jvirtio.backend.scsi;
    exports io.jvirtio.backend.store;

    // device types beyond the built-in blk and scsi
    uses io.jvirtio.backend.DeviceType;
}
