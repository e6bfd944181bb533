/** virtio-blk devices as bdevs. */
module io.jvirtio.blk {
    requires transitive io.jvirtio.bdev;
    requires transitive io.jvirtio.core;
    requires org.slf4j;

    exports io.jvirtio.blk;
}
