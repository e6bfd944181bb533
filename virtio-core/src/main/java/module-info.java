/**
 * The transport side of the driver: {@code VirtioDevice}, shared memory, the split virtqueue and the
 * vhost-user front-end. The virtqueue is for the device drivers only.
 */
@SuppressWarnings("module") // the qualified exports name modules built after this one
module io.jvirtio.core {
    requires transitive io.jvirtio.spec;
    requires org.slf4j;
    requires jdk.jfr;
    requires org.newsclub.net.unix;

    exports io.jvirtio.core;
    exports io.jvirtio.core.jfr;
    exports io.jvirtio.core.mem;
    exports io.jvirtio.core.pci;
    exports io.jvirtio.core.vfio;
    exports io.jvirtio.core.vhostuser;
    // json-config reads a queue's size through VirtioDevice.queue(i)
    exports io.jvirtio.core.ring to io.jvirtio.blk, io.jvirtio.scsi, io.jvirtio.config;
}
