/** The block device API storage engines program against: {@code Bdev}, {@code IoChannel}, {@code IoCallback}. */
module io.jvirtio.bdev {
    requires transitive io.jvirtio.spec; // BdevIoException is a VirtioException

    exports io.jvirtio.bdev;
    // The drivers' shared package io.jvirtio.bdev.driver is being written on another branch; javac
    // refuses an export of a package that does not exist yet, so the merge uncomments this line:
    // exports io.jvirtio.bdev.driver to io.jvirtio.blk, io.jvirtio.scsi;
}
