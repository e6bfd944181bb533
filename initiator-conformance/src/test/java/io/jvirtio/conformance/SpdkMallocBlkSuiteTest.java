package io.jvirtio.conformance;

import io.jvirtio.conformance.containers.SpdkBlkControllers;
import io.jvirtio.conformance.containers.TargetContainer;
import io.jvirtio.conformance.containers.RequiresTargetImage;
import io.jvirtio.conformance.containers.TargetImages;
import org.junit.jupiter.api.extension.RegisterExtension;

/** The blk suite against SPDK vhost-blk controllers over malloc bdevs (data checked through the device). */
@RequiresTargetImage(TargetImages.SPDK)
class SpdkMallocBlkSuiteTest extends AbstractSpdkBlkSuite {
    @RegisterExtension
    static final TargetContainer SPDK = TargetContainer.spdk("[]");

    @Override
    protected TargetContainer spdk() {
        return SPDK;
    }

    @Override
    protected SpdkBlkControllers.Store store() {
        return SpdkBlkControllers.Store.MALLOC;
    }
}
