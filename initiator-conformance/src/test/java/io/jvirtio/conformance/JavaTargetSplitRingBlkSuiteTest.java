package io.jvirtio.conformance;

import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.RingType;

/** {@link JavaTargetBlkSuiteTest} on split rings: the initiator refuses the packed ring the target offers. */
class JavaTargetSplitRingBlkSuiteTest extends JavaTargetBlkSuiteTest {
    @Override
    protected VirtioBlkOptions initiatorOptions(int queues) {
        return super.initiatorOptions(queues).withRingType(RingType.SPLIT);
    }

    @Override
    protected RingType expectedRing() {
        return RingType.SPLIT;
    }
}
