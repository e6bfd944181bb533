package io.jvirtio.conformance;

import io.jvirtio.conformance.containers.SpdkBlkControllers;
import io.jvirtio.conformance.containers.TargetContainer;
import io.jvirtio.conformance.containers.RequiresTargetImage;
import io.jvirtio.conformance.containers.TargetImages;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The blk suite against SPDK vhost-blk controllers over AIO bdevs on image files in the shared directory (data checked in the file on the host too). */
@RequiresTargetImage(TargetImages.SPDK)
class SpdkAioBlkSuiteTest extends AbstractSpdkBlkSuite {
    @RegisterExtension
    static final TargetContainer SPDK = TargetContainer.spdk("[]");

    @Override
    protected TargetContainer spdk() {
        return SPDK;
    }

    @Override
    protected SpdkBlkControllers.Store store() {
        return SpdkBlkControllers.Store.AIO;
    }
}
