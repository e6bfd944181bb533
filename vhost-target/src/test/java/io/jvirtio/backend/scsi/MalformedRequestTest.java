package io.jvirtio.backend.scsi;

import io.jvirtio.spec.scsi.VirtioScsiSpec;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MalformedRequestTest extends ScsiTestBase {
    @BeforeEach
    void setUp() {
        start();
        addLun(0, 0, 1 << 20, 512);
    }

    @Test
    void headerShorterThanTheCdbSizeFails() {
        TestInitiator.Response r = ini.cmd(0, 0, Cdb.testUnitReady()).headerLength(19 + 16).run();
        assertEquals(12 + 96, r.used());
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FAILURE, r.response());
        TestInitiator.Response empty = ini.cmd(0, 0, Cdb.testUnitReady()).headerLength(0).run();
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FAILURE, empty.response());
    }

    @Test
    void responseBufferTooSmall() {
        TestInitiator.Response noSense = ini.cmd(0, 0, Cdb.testUnitReady()).responseLength(12).run();
        assertEquals(12, noSense.used(), "only the fixed response header is written");
        assertEquals(VirtioScsiSpec.VIRTIO_SCSI_S_FAILURE, noSense.response());
        TestInitiator.Response none = ini.cmd(0, 0, Cdb.testUnitReady()).responseLength(11).run();
        assertEquals(0, none.used(), "no room for a response at all");
        FakeRequest nothing = new FakeRequest(2, List.of(), List.of());
        model.handle(nothing);
        assertEquals(0, nothing.awaitUsed());
    }

    @Test
    void bidirectionalWithoutInoutFails() {
        TestInitiator.Response r = ini.cmd(0, 0, Cdb.rw10(false, 0, 1)).out(new byte[512]).in(512).run();
        assertResponse(VirtioScsiSpec.VIRTIO_SCSI_S_FAILURE, r);
        assertEquals(512, r.residual());
    }

    @Test
    void requestOnAQueueThatDoesNotExist() {
        FakeRequest r = new FakeRequest(model.numQueues(), List.of(ini.arena.allocate(51)), List.of(ini.arena.allocate(108)));
        model.handle(r);
        assertEquals(0, r.awaitUsed());
    }

    @Test
    void exceptionsNeverEscapeHandle() {
        // a readable segment that throws when touched: the model answers, the caller sees no exception
        MemorySegment closed;
        try (var a = java.lang.foreign.Arena.ofConfined()) {
            closed = a.allocate(51);
        }
        FakeRequest r = new FakeRequest(2, List.of(closed), List.of(ini.arena.allocate(108)));
        model.handle(r);
        assertEquals(1, r.completions());
        assertTrue(r.completed());
    }

    @Test
    void everyRequestIsCompletedExactlyOnce() {
        List<TestInitiator.Submitted> all = new java.util.ArrayList<>();
        all.add(ini.cmd(0, 0, Cdb.testUnitReady()).submit());
        all.add(ini.cmd(0, 0, Cdb.rw10(true, 0, 1)).in(512).submit());
        all.add(ini.cmd(9, 0, Cdb.testUnitReady()).submit());
        all.add(ini.cmd(0, 0, Cdb.testUnitReady()).responseLength(5).submit());
        for (TestInitiator.Submitted s : all) {
            s.request().awaitUsed();
            assertEquals(1, s.request().completions());
        }
    }
}
