package io.jvirtio.conformance;

import io.jvirtio.core.RingType;
import io.jvirtio.scsi.VirtioScsiOptions;

/** {@link JavaTargetScsiSuiteTest} on split rings: the initiator refuses the packed ring the target offers. */
class JavaTargetSplitRingScsiSuiteTest extends JavaTargetScsiSuiteTest {
    @Override
    protected VirtioScsiOptions initiatorOptions() {
        return super.initiatorOptions().withRingType(RingType.SPLIT);
    }

    @Override
    protected RingType expectedRing() {
        return RingType.SPLIT;
    }
}
