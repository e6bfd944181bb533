/**
 * What the driver and the device side share: virtio feature and status constants, the split-ring
 * layout, the virtio-blk, virtio-scsi and SCSI wire formats, vhost-user message records, and the
 * native calls. The native calls ({@code io.jvirtio.sys}) and the ring layout are for jvirtio's own
 * transports only; the rest is API.
 */
@SuppressWarnings("module") // the qualified exports name modules built after this one
module io.jvirtio.spec {
    requires org.newsclub.net.unix;

    exports io.jvirtio.spec;
    exports io.jvirtio.spec.blk;
    exports io.jvirtio.spec.pci;
    exports io.jvirtio.spec.scsi;
    exports io.jvirtio.spec.vhostuser;
    exports io.jvirtio.spec.ring to io.jvirtio.core, io.jvirtio.backend;
    exports io.jvirtio.sys to io.jvirtio.core, io.jvirtio.backend, io.jvirtio.config;
    exports io.jvirtio.sys.vfio to io.jvirtio.core;
}
