/** The block device API storage engines program against: {@code Bdev}, {@code IoChannel}, {@code IoCallback}. */
module io.jvirtio.bdev {
    requires transitive io.jvirtio.spec; // BdevIoException is a VirtioException
    requires org.slf4j;
    requires transitive jdk.jfr; // the drivers commit the events of io.jvirtio.bdev.jfr

    exports io.jvirtio.bdev;
    exports io.jvirtio.bdev.jfr;
    // The layer drivers build on (argument checks, scatter-gather, slots, the request queue life
    // cycle): for the drivers only, never for engines.
    exports io.jvirtio.bdev.driver to io.jvirtio.blk, io.jvirtio.scsi;
}
