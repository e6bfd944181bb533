/** SPDK-compatible JSON configuration and RPC: controllers, bdevs, {@code save_config}, loading SPDK config files. */
module io.jvirtio.config {
    requires transitive io.jvirtio.blk;
    requires transitive io.jvirtio.scsi;
    requires transitive com.fasterxml.jackson.databind;
    requires org.slf4j;
    requires org.newsclub.net.unix; // the RPC server's socket (OwnedServerSocket)

    exports io.jvirtio.config;

    // on the module path, as META-INF/services does on the class path
    uses io.jvirtio.config.ControllerType;
    provides io.jvirtio.config.ControllerType with io.jvirtio.config.BlkControllerType, io.jvirtio.config.ScsiControllerType;
}
