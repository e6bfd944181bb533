package io.jvirtio.conformance;

import io.jvirtio.conformance.containers.RequiresTargetImage;
import io.jvirtio.conformance.containers.SpdkScsiControllers;
import io.jvirtio.conformance.containers.TargetContainer;
import io.jvirtio.conformance.containers.TargetImages;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.scsi.VirtioScsiOptions;
import org.junit.jupiter.api.extension.RegisterExtension;

import java.nio.file.Path;
import java.util.Optional;

/**
 * The scsi suite against SPDK's vhost-scsi in a container: controller {@code vhost.scsi0} made
 * through SPDK's RPC, targets 0 and 1 over malloc bdevs (RAM inside SPDK, so data is checked by
 * reading it back only), hot-plug by adding and removing target 2 through the RPC.
 *
 * <p>SPDK's scsi layer sets only LBPU in VPD 0xB2 (lib/scsi/scsi_bdev.c): no LBPWS, so the driver
 * offers no write-zeroes and that case is skipped with the reason; no LBPRZ, so what unmapped blocks
 * read is not checked. SPDK keeps serving a removed target until its hot-detach is done, so most I/O
 * in flight across the hot-unplug completes fine; the few it ends fail with CHECK CONDITION LOGICAL
 * UNIT NOT SUPPORTED, named by the driver with the disk. I/O submitted after the event is refused.
 */
@RequiresTargetImage(TargetImages.SPDK)
class SpdkScsiSuiteTest extends AbstractScsiInitiatorSuite {

    /** {@inheritDoc} SPDK's vhost-scsi has no packed ring. */
    @Override
    protected io.jvirtio.core.RingType expectedRing() {
        return io.jvirtio.core.RingType.SPLIT;
    }
    @RegisterExtension
    static final TargetContainer SPDK = TargetContainer.spdk("[]");
    private static final String CONTROLLER = "vhost.scsi0";

    /** SPDK's target maps only hugepage-backed front-end memory safely (docs/decisions.md). */
    @Override
    protected VirtioScsiOptions initiatorOptions() {
        return super.initiatorOptions().withHugePages(HugePagePolicy.REQUIRE);
    }

    @Override
    protected StartedScsiTarget startTarget(Path dir) {
        SpdkScsiControllers.Controller c = new SpdkScsiControllers(SPDK).create(CONTROLLER);
        c.addTarget(0, 512, DISK_BYTES);
        c.addTarget(1, 4096, DISK_BYTES);
        return new StartedScsiTarget() {
            @Override
            public Path socketPath() {
                return c.socket();
            }

            @Override
            public Optional<byte[]> storedBytes(int target, long offset, int length) {
                return Optional.empty(); // malloc bdevs live in SPDK's hugepages, out of the host's sight
            }

            @Override
            public boolean canHotplug() {
                return true;
            }

            @Override
            public void addTarget(int target, int blockSize, long blocks) {
                c.addTarget(target, blockSize, blocks * blockSize);
            }

            @Override
            public void removeTarget(int target) {
                c.removeTarget(target);
            }

            @Override
            public void close() {
                c.close();
            }
        };
    }
}
