package io.jvirtio.scsi;

import io.jvirtio.spec.scsi.ScsiSpec;

import io.jvirtio.bdev.Bdev;
import io.jvirtio.bdev.SyncIo;
import io.jvirtio.core.DeviceException;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.spec.VirtioFeatures;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import static io.jvirtio.scsi.ScsiTestSupport.assertSameBytes;
import static io.jvirtio.scsi.ScsiTestSupport.fill;
import static io.jvirtio.spec.scsi.VirtioScsiSpec.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Against a simulated device in this process: what the Java target cannot produce (SCSI BUSY status,
 * descriptor-format sense, an unwritten response, short transfers, odd config sizes, PARAM_CHANGE),
 * and the negotiation itself.
 */
class ScsiSimulatedDeviceTest {
    private static SimulatedScsiBackend sim() {
        SimulatedScsiBackend sim = new SimulatedScsiBackend();
        sim.addLun(0, 0, 512, 2048);
        return sim;
    }

    private static ScsiIoException failing(SyncIo io, MemorySegment buf) {
        VirtioException e = assertThrows(VirtioException.class, () -> io.read(buf, 0));
        return assertInstanceOf(ScsiIoException.class, e, e.toString());
    }

    /** A device lying about resid (u32 0xFFFFF000) and a page length of 0xFFFF must not push the scan out of its buffer. */
    @Test
    void aHugeResidualAndPageLengthDoNotOverrunTheScan() {
        SimulatedScsiBackend sim = sim();
        sim.intercept(cmd -> {
            if (cmd.opcode() == ScsiSpec.INQUIRY && (cmd.cdb()[1] & 1) != 0 && cmd.cdb()[2] == 0) {
                byte[] page = new byte[8];
                page[2] = (byte) 0xFF;
                page[3] = (byte) 0xFF; // page length 65535
                return new SimulatedScsiBackend.Reply(VIRTIO_SCSI_S_OK, ScsiSpec.STATUS_GOOD, null, page, 0xFFFF_F000L);
            }
            return null;
        });
        try (VirtioScsiController c = sim.attach(SimulatedScsiBackend.options())) {
            assertEquals(List.of("Simt0"), c.bdevs().stream().map(Bdev::name).toList(), "the LUN is still found");
        }
    }

    /**
     * Found by ScsiDeviceFuzzTest: without a dedicated scan queue the scan runs on a request queue; a
     * device that breaks it (a used len past the request) during the scan of target 1 left the attach
     * succeeding with target 0's LUN and no queue to reach it.
     */
    @Test
    void aDeviceThatBreaksTheScanQueueFailsTheAttach() {
        SimulatedScsiBackend sim = sim().config(CFG_NUM_QUEUES, 1);
        sim.addLun(1, 0, 512, 64);
        sim.intercept(cmd -> cmd.target() == 1 && cmd.opcode() == ScsiSpec.INQUIRY
                ? new SimulatedScsiBackend.Reply(VIRTIO_SCSI_S_OK, ScsiSpec.STATUS_GOOD, null, null, -1, 1 << 20) : null);
        VirtioException e = assertThrows(VirtioException.class, () -> sim.attach(SimulatedScsiBackend.options().withScanTargets(2)));
        assertInstanceOf(ScanException.class, e, e.toString());
        assertTrue(e.getMessage().contains("Sim") && e.getMessage().contains("INQUIRY to target 1"), e.getMessage());
        assertTrue(sim.destructed(), "nothing left attached");
        assertTrue(sim.memory().regions().isEmpty(), "the memory domain is unmapped");
    }

    @Test
    void negotiatesScsiAndRingFeaturesAndWorks() {
        SimulatedScsiBackend sim = sim();
        try (VirtioScsiController c = sim.attach(SimulatedScsiBackend.options())) {
            long f = sim.driverFeatures();
            assertTrue(VirtioFeatures.has(f, VIRTIO_SCSI_F_HOTPLUG));
            assertTrue(VirtioFeatures.has(f, VIRTIO_SCSI_F_CHANGE));
            assertTrue(VirtioFeatures.has(f, VirtioFeatures.VIRTIO_RING_F_EVENT_IDX));
            assertTrue(VirtioFeatures.has(f, VirtioFeatures.VIRTIO_RING_F_INDIRECT_DESC));
            assertFalse(VirtioFeatures.has(f, VIRTIO_SCSI_F_INOUT), "not offered, not taken");
            assertEquals(List.of("Simt0"), c.bdevs().stream().map(Bdev::name).toList());
            VirtioScsiDisk d = c.bdevs().getFirst();
            assertEquals(256, d.info().maxTransferBlocks());
            try (VirtioScsiChannel ch = d.openChannel()) {
                MemorySegment buf = d.allocateBuffer(4096, 4096);
                fill(buf, 1);
                SyncIo io = new SyncIo(ch);
                io.write(buf, 512);
                assertSameBytes(buf, MemorySegment.ofArray(sim.lun(0, 0).data).asSlice(512, 4096), "on the sim");
            }
        }
        assertTrue(sim.destructed());
    }

    @Test
    void scsiBusyAndTaskSetFullAreRetriedThenReported() {
        SimulatedScsiBackend sim = sim();
        try (VirtioScsiController c = sim.attach(SimulatedScsiBackend.options());
             VirtioScsiChannel ch = c.bdevs().getFirst().openChannel()) {
            MemorySegment buf = c.bdevs().getFirst().allocateBuffer(4096, 4096);
            SyncIo io = new SyncIo(ch);
            AtomicInteger busy = new AtomicInteger(3);
            sim.intercept(cmd -> cmd.opcode() == ScsiSpec.READ_10 && busy.getAndDecrement() > 0
                    ? SimulatedScsiBackend.Reply.status(busy.get() % 2 == 0 ? ScsiSpec.STATUS_BUSY : ScsiSpec.STATUS_TASK_SET_FULL) : null);
            io.read(buf, 0);
            assertEquals(-1, busy.get(), "three busy answers, then success");

            sim.intercept(cmd -> cmd.opcode() == ScsiSpec.READ_10 ? SimulatedScsiBackend.Reply.status(ScsiSpec.STATUS_BUSY) : null);
            sim.clearCommands();
            ScsiIoException e = failing(io, buf);
            assertEquals(ScsiSpec.STATUS_BUSY, e.status());
            assertTrue(e.getMessage().contains("SCSI status BUSY (after " + ScsiRetryPolicy.MAX_BUSY_RETRIES + " retries)"), e.getMessage());
            assertEquals(1 + ScsiRetryPolicy.MAX_BUSY_RETRIES, sim.commands().size());

            sim.intercept(cmd -> cmd.opcode() == ScsiSpec.READ_10 ? SimulatedScsiBackend.Reply.status(ScsiSpec.STATUS_RESERVATION_CONFLICT) : null);
            sim.clearCommands();
            e = failing(io, buf);
            assertTrue(e.getMessage().contains("SCSI status RESERVATION CONFLICT"), e.getMessage());
            assertEquals(1, sim.commands().size(), "not retried");
        }
    }

    @Test
    void descriptorFormatSenseIsDecoded() {
        SimulatedScsiBackend sim = sim();
        byte[] sense = new byte[20];
        sense[0] = 0x72;
        sense[1] = ScsiSpec.KEY_MEDIUM_ERROR;
        sense[2] = 0x11;
        sense[3] = 0x00;
        sense[7] = 12;                 // one information descriptor
        sense[8] = 0x00;
        sense[9] = 0x0A;
        sense[10] = (byte) 0x80;       // VALID
        MemorySegment.ofArray(sense).set(ScsiSpec.BE_LONG, 12, 0x1234L);
        try (VirtioScsiController c = sim.attach(SimulatedScsiBackend.options());
             VirtioScsiChannel ch = c.bdevs().getFirst().openChannel()) {
            sim.intercept(cmd -> cmd.opcode() == ScsiSpec.READ_10
                    ? new SimulatedScsiBackend.Reply(VIRTIO_SCSI_S_OK, ScsiSpec.STATUS_CHECK_CONDITION, sense, null, -1) : null);
            ScsiIoException e = failing(new SyncIo(ch), c.bdevs().getFirst().allocateBuffer(512, 512));
            assertTrue(e.sense().descriptorFormat());
            assertEquals(0x1234L, e.sense().information());
            assertTrue(e.getMessage().contains("MEDIUM ERROR (0x3), ASC/ASCQ 0x11/0x00 UNRECOVERED READ ERROR, information 0x1234 [descriptor format]"),
                    e.getMessage());
        }
    }

    @Test
    void anUnwrittenResponseAndAShortTransferAreErrors() {
        SimulatedScsiBackend sim = sim();
        try (VirtioScsiController c = sim.attach(SimulatedScsiBackend.options());
             VirtioScsiChannel ch = c.bdevs().getFirst().openChannel()) {
            MemorySegment buf = c.bdevs().getFirst().allocateBuffer(4096, 4096);
            SyncIo io = new SyncIo(ch);
            sim.intercept(cmd -> cmd.opcode() == ScsiSpec.READ_10 ? new SimulatedScsiBackend.Reply(-1, 0, null, null, -1) : null);
            ScsiIoException e = failing(io, buf);
            assertTrue(e.getMessage().contains("completed without a response (the device did not write virtio_scsi_resp_cmd.response"),
                    e.getMessage());
            sim.intercept(cmd -> cmd.opcode() == ScsiSpec.READ_10 ? SimulatedScsiBackend.Reply.good(new byte[1024]) : null);
            e = failing(io, buf);
            assertTrue(e.getMessage().contains("transferred 3072 bytes less than asked"), e.getMessage());
            sim.intercept(cmd -> null);
            io.read(buf, 0);
        }
    }

    @Test
    void aLunWithoutSynchronizeCacheFlushesAtOnce() {
        SimulatedScsiBackend sim = sim();
        sim.intercept(cmd -> cmd.opcode() == ScsiSpec.SYNCHRONIZE_CACHE_10 ? SimulatedScsiBackend.Reply.check(ScsiSpec.KEY_ILLEGAL_REQUEST, 0x20, 0)
                : cmd.opcode() == ScsiSpec.WRITE_10 ? new SimulatedScsiBackend.Reply(VIRTIO_SCSI_S_OK, 0, null, null, 512) : null);
        try (VirtioScsiController c = sim.attach(SimulatedScsiBackend.options());
             VirtioScsiChannel ch = c.bdevs().getFirst().openChannel()) {
            SyncIo io = new SyncIo(ch);
            io.flush();
            io.flush();
            io.write(c.bdevs().getFirst().allocateBuffer(4096, 4096), 0);   // a write's residual is not an error
            assertEquals(2, sim.commands().stream().filter(x -> x.opcode() == ScsiSpec.SYNCHRONIZE_CACHE_10).count());
        }
    }

    @Test
    void reportLunsRefusedMeansLun0OnlyAndNonDisksAreSkipped() {
        SimulatedScsiBackend sim = sim();
        sim.addLun(0, 1, 512, 100);
        sim.addLun(1, 0, 512, 100).deviceType = 0x05;   // a CD-ROM
        sim.addLun(2, 0, 4096, 100);
        sim.intercept(cmd -> cmd.opcode() == ScsiSpec.REPORT_LUNS && cmd.target() == 0
                ? SimulatedScsiBackend.Reply.check(ScsiSpec.KEY_ILLEGAL_REQUEST, 0x20, 0) : null);
        try (VirtioScsiController c = sim.attach(SimulatedScsiBackend.options())) {
            assertEquals(List.of("Simt0", "Simt2"), c.bdevs().stream().map(Bdev::name).toList());
        }
    }

    @Test
    void largerCdbAndSenseSizesShapeTheHeaders() {
        SimulatedScsiBackend sim = sim().config(CFG_CDB_SIZE, 64).config(CFG_SENSE_SIZE, 252);
        try (VirtioScsiController c = sim.attach(SimulatedScsiBackend.options());
             VirtioScsiChannel ch = c.bdevs().getFirst().openChannel()) {
            assertEquals(64, c.config().cdbSize());
            new SyncIo(ch).read(c.bdevs().getFirst().allocateBuffer(512, 512), 0);
            SimulatedScsiBackend.Cmd last = sim.commands().getLast();
            assertEquals(19 + 64, last.requestBytes());
            assertEquals(12 + 252, last.responseBytes());
        }
    }

    @Test
    void unusableConfigIsRefusedAndNothingStaysOpen() {
        SimulatedScsiBackend sim = sim().config(CFG_CDB_SIZE, 10);
        DeviceException e = assertThrows(DeviceException.class, () -> sim.attach(SimulatedScsiBackend.options()));
        assertTrue(e.getMessage().contains("virtio_scsi_config.cdb_size = 10, expected 16..260"), e.getMessage());
        assertTrue(sim.destructed());
        SimulatedScsiBackend sim2 = sim().config(CFG_NUM_QUEUES, 0);
        e = assertThrows(DeviceException.class, () -> sim2.attach(SimulatedScsiBackend.options()));
        assertTrue(e.getMessage().contains("num_queues = 0"), e.getMessage());
    }

    @Test
    void aTransportWithoutConfigUsesSpdkDefaults() {
        SimulatedScsiBackend sim = sim().noConfig();
        try (VirtioScsiController c = sim.attach(SimulatedScsiBackend.options())) {
            assertFalse(c.config().fromDevice());
            assertEquals(64, c.targetCount());
            assertEquals(1, c.bdevs().size());
        }
    }

    @Test
    void withoutConfigTheTransportsQueueCountDecidesTheScanQueue() {
        try (VirtioScsiController c = sim().noConfig().attach(SimulatedScsiBackend.options())) {
            assertEquals(2, c.config().numQueues(), "the transport's 4 queues minus control and event");
            assertTrue(c.hasDedicatedScanQueue(), "1 request queue asked, 2 known: one to spare");
        }
    }

    @Test
    void withoutConfigOrQueueCountTheRequestedQueuesAreTakenAndNoneSpared() {
        try (VirtioScsiController c = sim().noConfig().unknownQueueCount().attach(SimulatedScsiBackend.options().withRequestQueues(2))) {
            assertFalse(c.config().fromDevice());
            assertEquals(0, c.config().numQueues(), "neither the device nor the transport says");
            assertEquals(2, c.ioQueueCount());
            assertFalse(c.hasDedicatedScanQueue(), "no queue is known to be spare");
            assertEquals(1, c.bdevs().size());
        }
    }

    @Test
    void aDeviceConfigNeedsNoTransportQueueCount() {
        try (VirtioScsiController c = sim().unknownQueueCount().attach(SimulatedScsiBackend.options())) {
            assertTrue(c.config().fromDevice());
            assertTrue(c.hasDedicatedScanQueue(), "num_queues 2 from the device, 1 asked");
        }
    }

    @Test
    void eventsDriveRescansRemovalsAndCapacityChanges() {
        SimulatedScsiBackend sim = sim();
        try (VirtioScsiController c = sim.attach(SimulatedScsiBackend.options())) {
            List<String> log = new ArrayList<>();
            c.addListener(new BdevListener() {
                @Override
                public void bdevAdded(Bdev bdev) {
                    log.add("+" + bdev.name());
                }

                @Override
                public void bdevRemoved(Bdev bdev) {
                    log.add("-" + bdev.name());
                }
            });
            assertEquals(16, sim.postedEventBuffers());
            sim.addLun(1, 0, 512, 64);
            sim.sendEvent(VIRTIO_SCSI_T_TRANSPORT_RESET, 1, 0, VIRTIO_SCSI_EVT_RESET_RESCAN);
            assertEquals(1, c.pollEvents());
            assertEquals(List.of("+Simt1"), log);
            assertEquals(16, sim.postedEventBuffers(), "the buffer went back");

            sim.lun(1, 0).blocks = 32;
            sim.sendEvent(VIRTIO_SCSI_T_PARAM_CHANGE, 1, 0, 0x2A | (0x09 << 8));
            c.pollEvents();
            assertEquals(32, c.disk(1, 0).orElseThrow().blockCount(), "CAPACITY DATA HAS CHANGED: rescanned");

            sim.removeLun(1, 0);
            sim.sendEvent(VIRTIO_SCSI_T_TRANSPORT_RESET, 1, 0, VIRTIO_SCSI_EVT_RESET_REMOVED);
            c.pollEvents();
            assertEquals(List.of("+Simt1", "-Simt1"), log);

            sim.addLun(3, 9, 512, 64);
            sim.sendEvent(VIRTIO_SCSI_T_NO_EVENT | VIRTIO_SCSI_T_EVENTS_MISSED, 0, 0, 0);
            c.pollEvents();
            assertEquals(List.of("+Simt1", "-Simt1", "+Simt3l9"), log, "EVENTS_MISSED: full rescan");

            sim.sendRawEvent(new byte[] {1, 0, 0, 0, 7, 1, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0}); // lun[0] != 1
            sim.sendEvent(VIRTIO_SCSI_T_TRANSPORT_RESET, 200, 0, VIRTIO_SCSI_EVT_RESET_RESCAN); // beyond max_target
            assertEquals(2, c.pollEvents());
            assertEquals(3, log.size(), "ignored");
            assertEquals(16, sim.postedEventBuffers());
        }
    }

    @Test
    void resetSendsLogicalUnitReset() {
        SimulatedScsiBackend sim = sim();
        try (VirtioScsiController c = sim.attach(SimulatedScsiBackend.options());
             VirtioScsiChannel ch = c.bdevs().getFirst().openChannel()) {
            new SyncIo(ch).reset();
            assertEquals(List.of(VIRTIO_SCSI_T_TMF_LOGICAL_UNIT_RESET), sim.tmfs());
        }
    }

    @Test
    void aFullRingQueuesIoInTheFifoAndResumesItFromPoll() {
        SimulatedScsiBackend sim = sim();
        // 8 descriptors: one direct command (3 descriptors, half the ring left free), then five through their
        // indirect tables: 6 commands on the ring at once; the other 42 I/Os wait in the FIFO
        try (VirtioScsiController c = sim.attach(SimulatedScsiBackend.options().withQueueSize(8).withChannelDepth(64));
             VirtioScsiChannel ch = c.bdevs().getFirst().openChannel()) {
            sim.autoProcess(false);
            VirtioScsiDisk d = c.bdevs().getFirst();
            List<ScsiTestSupport.Outcome> outs = new ArrayList<>();
            MemorySegment buf = d.allocateBuffer(48 * 512, 4096);
            fill(buf, 4);
            for (int i = 0; i < 48; i++) {
                ScsiTestSupport.Outcome o = new ScsiTestSupport.Outcome();
                outs.add(o);
                assertTrue(ch.write(buf.asSlice(i * 512L, 512), i * 512L, o, null));
            }
            assertEquals(48, ch.inFlight());
            assertEquals(6, sim.pending(ch.queueIndex()), "the ring is full");
            int rounds = 0;
            while (!outs.getLast().done) {
                sim.process(ch.queueIndex());
                ch.poll();
                rounds++;
            }
            assertTrue(rounds >= 6, "resumed from poll in batches, " + rounds + " rounds");
            for (ScsiTestSupport.Outcome o : outs) {
                assertTrue(o.done);
                assertEquals(null, o.error);
            }
            List<Long> lbas = sim.commands().stream().filter(x -> x.opcode() == ScsiSpec.WRITE_10)
                    .map(x -> Integer.toUnsignedLong(MemorySegment.ofArray(x.cdb()).get(ScsiSpec.BE_INT, 2))).toList();
            assertEquals(java.util.stream.LongStream.range(0, 48).boxed().toList(), lbas, "submission order kept");
            assertSameBytes(buf, MemorySegment.ofArray(sim.lun(0, 0).data).asSlice(0, 48 * 512), "all written");
            assertEquals(0, ch.inFlight());
        }
    }
}
