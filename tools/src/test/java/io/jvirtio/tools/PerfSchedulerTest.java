package io.jvirtio.tools;

import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.scsi.ScsiLun;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import io.jvirtio.backend.scsi.VirtioScsiModel;
import io.jvirtio.backend.store.RamBlockStore;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.jvirtio.tools.CommandResult.run;
import static org.junit.jupiter.api.Assertions.*;

/**
 * perf's per-core scheduler (SPDK's reactors) against Java targets in this process: both LUNs of a
 * one-request-queue virtio-scsi controller on one core, two bdevs on {@code -m 0x3} each on its own
 * core thread, and a job whose target is killed that does not hide the other's row.
 */
class PerfSchedulerTest {
    @TempDir
    Path dir;
    private final List<AutoCloseable> closeables = new ArrayList<>();

    @BeforeEach
    void none() {
        closeables.clear();
    }

    @AfterEach
    void close() throws Exception {
        for (int i = closeables.size() - 1; i >= 0; i--) {
            closeables.get(i).close();
        }
    }

    private VhostUserTarget blkTarget(String name) {
        RamBlockStore store = new RamBlockStore(8L << 20, false);
        VhostUserTarget t = VhostUserTarget.builder().name(name).socket(dir.resolve(name + ".sock"))
                .blk(store, BlkModelOptions.builder().numQueues(1).build()).closeOnExit(store).start();
        closeables.add(t);
        return t;
    }

    private Path config(String entries) throws Exception {
        Path c = dir.resolve("bdev-" + System.nanoTime() + ".json");
        Files.writeString(c, "{\"subsystems\": [{\"subsystem\": \"bdev\", \"config\": [" + entries + "]}]}");
        return c;
    }

    private static String blkEntry(String name, Path socket) {
        return """
                {"method": "bdev_virtio_attach_controller",
                 "params": {"name": "%s", "trtype": "user", "traddr": "%s", "dev_type": "blk", "vq_count": 1, "vq_size": 64}}"""
                .formatted(name, socket);
    }

    /** @return the IOPS of the row of {@code bdev}, or -1 */
    private static double iops(String table, String bdev) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(bdev) + "\\s+\\S+\\s+\\d+\\s+\\d+\\s+([0-9.]+)").matcher(table);
        return m.find() ? Double.parseDouble(m.group(1)) : -1;
    }

    /** The CI test: a two-LUN scsi controller with one request queue, both LUNs on one core, at QD32 sharing a 64-entry ring. */
    @Test
    void bothLunsOfAOneQueueScsiControllerRunOnOneCore() throws Exception {
        VirtioScsiModel scsi = new VirtioScsiModel(ScsiModelOptions.builder().name("scsi0").requestQueues(1).build());
        for (int t = 0; t < 2; t++) {
            RamBlockStore store = new RamBlockStore(8L << 20, false);
            closeables.add(store);
            scsi.addLun(t, 0, ScsiLun.builder(store).blockSize(4096).build());
        }
        Path sock = dir.resolve("scsi0.sock");
        closeables.add(VhostUserTarget.builder().name("scsi0").socket(sock).model(scsi).start());
        Path c = config("""
                {"method": "bdev_virtio_attach_controller",
                 "params": {"name": "VirtioScsi0", "trtype": "user", "traddr": "%s", "dev_type": "scsi", "vq_count": 1, "vq_size": 64}}"""
                .formatted(sock));
        CommandResult r = run("perf", "--json", c.toString(), "-q", "1,32", "-t", "1");
        assertEquals(0, r.status, r.all());
        assertTrue(r.out.contains("cores: core 0: VirtioScsi0t0, VirtioScsi0t1"), r.out);
        for (String depth : List.of("1", "32")) {
            for (String bdev : List.of("VirtioScsi0t0", "VirtioScsi0t1", "Total")) {
                assertTrue(r.out.matches("(?s).*\\n" + bdev + "\\s+randread\\s+" + depth + "\\s+4096\\s+[1-9][0-9]*.*"), bdev + " -q " + depth
                        + ":\n" + r.out);
            }
        }
    }

    @Test
    void aMaskOfTwoCoresPutsEachOfTwoBdevsOnItsOwnCore() throws Exception {
        VhostUserTarget a = blkTarget("blkA");
        VhostUserTarget b = blkTarget("blkB");
        Path c = config(blkEntry("BlkA", a.socketPath()) + "," + blkEntry("BlkB", b.socketPath()));
        CommandResult r = run("perf", "--json", c.toString(), "-m", "0x3", "-q", "4", "-t", "1");
        assertEquals(0, r.status, r.all());
        assertTrue(r.out.contains("cores: core 0: BlkA; core 1: BlkB"), r.out);
        assertTrue(iops(r.out, "BlkA") > 0 && iops(r.out, "BlkB") > 0, r.out);
        assertEquals(iops(r.out, "BlkA") + iops(r.out, "BlkB"), iops(r.out, "Total"), 2.0, r.out);

        CommandResult everyCore = run("perf", "--json", c.toString(), "-m", "0x3", "-C", "-t", "1");
        assertEquals(2, everyCore.status, "-C: each one-queue blk on both cores needs 2 queues: " + everyCore.all());
        assertTrue(everyCore.err.contains("bdev BlkA runs on 2 cores (cores 0,1) but has only 1 request queue(s)"), everyCore.err);
    }

    /** perf --jfr: the recording holds the attach, the detach and the measured bdev's statistics. */
    @Test
    void perfJfrRecordsAttachDetachAndTheBdevsStatistics() throws Exception {
        VhostUserTarget a = blkTarget("blkA");
        Path c = config(blkEntry("BlkA", a.socketPath()));
        Path jfr = dir.resolve("run.jfr");
        CommandResult r = run("perf", "--json", c.toString(), "-q", "4", "-t", "3", "--jfr", jfr.toString());
        assertEquals(0, r.status, r.all());
        assertTrue(r.out.contains("JFR recording written to " + jfr), r.out);
        List<jdk.jfr.consumer.RecordedEvent> events = jdk.jfr.consumer.RecordingFile.readAllEvents(jfr);
        assertTrue(events.stream().anyMatch(e -> e.getEventType().getName().equals("io.jvirtio.Attach")
                && "BlkA".equals(e.getString("name"))), "an Attach event of BlkA");
        assertTrue(events.stream().anyMatch(e -> e.getEventType().getName().equals("io.jvirtio.Detach")
                && "BlkA".equals(e.getString("name"))), "a Detach event of BlkA");
        long readOps = events.stream().filter(e -> e.getEventType().getName().equals("io.jvirtio.BdevStatistics")
                && "BlkA".equals(e.getString("bdev"))).mapToLong(e -> e.getLong("readOps")).max().orElse(-1);
        assertTrue(readOps > 0, "BdevStatistics of BlkA with its reads: " + readOps);

        CommandResult noDir = run("perf", "--json", c.toString(), "-t", "1", "--jfr", dir.resolve("no/such/run.jfr").toString());
        assertEquals(2, noDir.status, noDir.all());
        assertTrue(noDir.err.contains("--jfr") && noDir.err.contains("no such directory"), noDir.err);
    }

    @Test
    void aJobWhoseTargetIsKilledDoesNotHideTheOthersRow() throws Exception {
        VhostUserTarget a = blkTarget("blkA");
        VhostUserTarget b = blkTarget("blkB");
        Path c = config(blkEntry("BlkA", a.socketPath()) + "," + blkEntry("BlkB", b.socketPath()));
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        CompletableFuture<Integer> perf = CompletableFuture.supplyAsync(() -> Jvirtio.run(new String[] {"perf", "--json", c.toString(), "-m",
                "0x3", "-q", "4", "-t", "4", "--warmup", "0"}, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8)));
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!out.toString(StandardCharsets.UTF_8).contains("running") && System.nanoTime() < deadline && !perf.isDone()) {
            Thread.sleep(10);
        }
        Thread.sleep(1000); // a second into the measured phase
        b.close();
        int status = perf.get(60, TimeUnit.SECONDS);
        CommandResult r = new CommandResult(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        assertEquals(1, r.status, r.all());
        assertTrue(iops(r.out, "BlkA") > 0, "the surviving bdev's row: " + r.all());
        assertTrue(r.err.contains("BlkB"), "the killed one's error is named after the table: " + r.all());
        System.out.println("perf with a killed target:\n" + r.all());
        Matcher jvm = Pattern.compile("jvm ([0-9.]+)% CPU").matcher(r.out);
        assertTrue(jvm.find(), r.out);
        assertTrue(Double.parseDouble(jvm.group(1)) <= Runtime.getRuntime().availableProcessors() * 100 * 1.1,
                "the JVM's CPU is over the whole run, not over the killed job's shorter phase: " + r.out);
    }
}
