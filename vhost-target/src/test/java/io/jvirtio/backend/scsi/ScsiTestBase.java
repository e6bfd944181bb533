package io.jvirtio.backend.scsi;

import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.spec.scsi.VirtioScsiSpec;
import org.junit.jupiter.api.AfterEach;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Model + initiator per test, and helpers to make LUNs and check responses. */
abstract class ScsiTestBase {
    protected VirtioScsiModel model;
    protected TestInitiator ini;
    private final List<RamBlockStore> stores = new ArrayList<>();

    /** A model with the given config and features negotiated (VERSION_1 | HOTPLUG when offered). */
    protected VirtioScsiModel start(ScsiModelOptions config) {
        create(config);
        model.featuresNegotiated(model.deviceFeatures());
        return model;
    }

    /** A model with the given config whose driver has not negotiated features yet (no hot-plug events). */
    protected VirtioScsiModel create(ScsiModelOptions config) {
        model = new VirtioScsiModel(config);
        ini = new TestInitiator(model);
        return model;
    }

    protected VirtioScsiModel start() {
        return start(ScsiModelOptions.builder().requestQueues(4).build());
    }

    protected RamBlockStore ram(long bytes) {
        RamBlockStore s = new RamBlockStore(bytes, false);
        stores.add(s);
        return s;
    }

    protected ScsiLun.Builder lun(long bytes, int blockSize) {
        return ScsiLun.builder(ram(bytes)).blockSize(blockSize).serial("SER" + stores.size());
    }

    protected ScsiLun addLun(int target, int lun, long bytes, int blockSize) {
        return model.addLun(target, lun, lun(bytes, blockSize).build());
    }

    @AfterEach
    void tearDown() {
        if (model != null) {
            model.close();
        }
        if (ini != null) {
            ini.close();
        }
        stores.forEach(RamBlockStore::close);
    }

    static void assertGood(TestInitiator.Response r) {
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_OK, r.response(), () -> "response of " + r);
        assertEquals(0, r.status(), () -> "status of " + r);
        assertEquals(0, r.senseLen(), () -> "sense_len of " + r);
    }

    /** CHECK CONDITION with fixed-format sense {@code expected}, byte for byte in the header fields. */
    static void assertCheckCondition(SenseCode expected, TestInitiator.Response r) {
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_OK, r.response(), () -> "response of " + r);
        assertEquals(2, r.status(), () -> "status of " + r);
        assertEquals(18, r.senseLen(), () -> "sense_len of " + r);
        assertEquals(0x70, r.sense()[0] & 0xFF, "fixed format, current");
        assertEquals(10, r.sense()[7] & 0xFF, "additional sense length");
        assertEquals(expected, r.senseData(), () -> "sense of " + r);
    }

    static void assertResponse(int expected, TestInitiator.Response r) {
        assertEquals(VirtioScsiSpec.responseName(expected), VirtioScsiSpec.responseName(r.response()), () -> "response of " + r);
        assertEquals(0, r.status(), () -> "status of " + r);
        assertEquals(0, r.senseLen(), () -> "sense_len of " + r);
    }

    static byte[] pattern(int len, int seed) {
        byte[] b = new byte[len];
        for (int i = 0; i < len; i++) {
            b[i] = (byte) (i * 31 + seed * 7 + (i >> 9));
        }
        return b;
    }
}
