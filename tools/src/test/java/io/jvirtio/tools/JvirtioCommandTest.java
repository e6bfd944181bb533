package io.jvirtio.tools;

import io.jvirtio.core.testing.RequiresQemuStorageDaemon;
import org.junit.jupiter.api.Test;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static io.jvirtio.tools.CommandResult.run;
import static org.junit.jupiter.api.Assertions.*;

/** The README's main job and the benchmark, run as a user runs them (minus the JVM launch). */
@RequiresQemuStorageDaemon
class JvirtioCommandTest {
    @Test
    void demoOnTheEmbeddedTargetVerifiesMeasuresAndPrintsSpdkJson() {
        CommandResult r = run("demo", "-t", "1");
        assertEquals(0, r.status, r.out + r.err);
        for (String bdev : new String[]{"VirtioBlk0", "VirtioScsi0t0", "VirtioScsi0t0l1"}) {
            assertTrue(r.out.contains("\"name\": \"" + bdev + "\""), bdev + " in bdev_get_bdevs: " + r.out);
        }
        assertTrue(r.out.contains("verify: every block read back as written"), r.out);
        assertTrue(r.out.contains("\"dev_type\": \"scsi\""), "save_config has the scsi controller: " + r.out);
        assertTrue(r.out.contains("\"block_size\": 4096"), "LUN 1 has 4 KiB blocks: " + r.out);
        assertTrue(r.out.contains("demo finished"), r.out);
    }

    @Test
    void demoWritesReadsBackAndVerifiesTheHostFile() {
        CommandResult r = run("demo", "--qsd", "-t", "1");
        assertEquals(0, r.status, r.out + r.err);
        assertTrue(r.out.contains("thread 0 on VirtioBlk0-q"), r.out);
        assertTrue(r.out.contains("thread 1 on VirtioBlk0-q"), r.out);
        assertTrue(r.out.contains("the host file reads zeros there"), r.out);
        assertTrue(r.out.contains("demo finished"), r.out);
    }

    @Test
    void perfJsonReportsPositiveFiguresForBothDepths() {
        CommandResult r = run("perf", "--qsd-null", "256M", "-w", "randread", "-o", "4096", "-q", "1,32", "-t", "1", "--output", "json");
        assertEquals(0, r.status, r.out + r.err);
        Matcher iops = Pattern.compile("\"iops\": ([0-9.]+)").matcher(r.out);
        int found = 0;
        while (iops.find()) {
            assertTrue(Double.parseDouble(iops.group(1)) > 0, r.out);
            found++;
        }
        assertEquals(2, found, r.out);
        assertTrue(r.out.contains("\"queue_depth\": 32"), r.out);
        assertTrue(r.out.contains("\"errors\": 0"), r.out);
        Matcher target = Pattern.compile("\"target\": ([0-9.]+)").matcher(r.out);
        assertTrue(target.find() && Double.parseDouble(target.group(1)) > 0, "qemu-storage-daemon CPU time is reported: " + r.out);
    }

    @Test
    void bdevsSaveConfigAndPerfVerifyFromAnSpdkConfig(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path image = dir.resolve("disk.img");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(image.toFile(), "rw")) {
            f.setLength(64L << 20);
        }
        try (io.jvirtio.testkit.QemuStorageDaemon qsd = io.jvirtio.testkit.QemuStorageDaemon.file(image).numQueues(2).start()) {
            java.nio.file.Path config = dir.resolve("bdev.json");
            java.nio.file.Files.writeString(config, """
                    {"subsystems": [{"subsystem": "bdev", "config": [
                      {"method": "bdev_set_options", "params": {"bdev_io_pool_size": 65535, "bdev_io_cache_size": 256}},
                      {"method": "bdev_virtio_attach_controller",
                       "params": {"name": "VirtioBlk0", "trtype": "user", "traddr": "%s", "dev_type": "blk", "vq_count": 2, "vq_size": 128}},
                      {"method": "bdev_wait_for_examine"}]}]}
                    """.formatted(qsd.socketPath()));

            CommandResult bdevs = run("bdevs", "--json", config.toString());
            assertEquals(0, bdevs.status, bdevs.out + bdevs.err);
            assertTrue(bdevs.out.contains("\"name\": \"VirtioBlk0\""), bdevs.out);
            assertTrue(bdevs.out.contains("\"num_blocks\": 131072"), bdevs.out);
            assertTrue(bdevs.out.contains("\"socket\": \"" + qsd.socketPath() + "\""), bdevs.out);

            CommandResult save = run("save-config", "--json", config.toString());
            assertEquals(0, save.status, save.out + save.err);
            assertTrue(save.out.contains("\"method\": \"bdev_virtio_attach_controller\""), save.out);
            assertTrue(save.out.contains("\"vq_count\": 2"), save.out);

            CommandResult verify = run("perf", "--json", config.toString(), "--cores", "2", "-C", "-w", "verify", "-q", "8", "-o", "8192", "-t", "1",
                    "--output", "json");
            assertEquals(0, verify.status, verify.out + verify.err);
            assertTrue(verify.out.contains("\"miscompares\": 0"), verify.out);
            Matcher ios = Pattern.compile("\"ios\": ([0-9]+)").matcher(verify.out);
            assertTrue(ios.find() && Long.parseLong(ios.group(1)) > 0, verify.out);

            CommandResult noBdev = run("perf", "--json", config.toString(), "-b", "VirtioBlk9", "-t", "1");
            assertEquals(2, noBdev.status);
            assertTrue(noBdev.err.contains("-b VirtioBlk9") && noBdev.err.contains("VirtioBlk0"), noBdev.err);
        }
        CommandResult missing = run("bdevs", "--json", dir.resolve("nope.json").toString());
        assertEquals(2, missing.status);
        assertTrue(missing.err.contains("nope.json"), missing.err);
    }

    @Test
    void badCommandLinesNameTheOptionAndValue() {
        CommandResult r = run("perf", "--qsd-null", "1G", "-w", "sideways");
        assertEquals(2, r.status);
        assertTrue(r.err.contains("-w sideways"), r.err);
        CommandResult s = run("perf", "--socket", "/nonexistent/vhost.sock", "-t", "1");
        assertEquals(1, s.status);
        assertTrue(s.err.contains("/nonexistent/vhost.sock"), s.err);
        CommandResult q = run("perf", "--qsd-null", "1G", "-q", "zero");
        assertEquals(2, q.status);
        assertTrue(q.err.contains("-q zero"), q.err);
    }
    /**
     * "What happens today" of the reconnect issue: the target is killed (SIGKILL) while perf runs.
     * perf says the back-end disconnected, ends at once instead of running out -t, prints the table
     * of what it measured and then the error, and exits 1.
     */
    @Test
    void perfOnAKilledTargetPrintsTheDisconnectAndWhatItMeasured() throws Exception {
        try (io.jvirtio.testkit.QemuStorageDaemon qsd = io.jvirtio.testkit.QemuStorageDaemon.nullCo(256L << 20).start()) {
            java.util.concurrent.CompletableFuture<CommandResult> perf = java.util.concurrent.CompletableFuture.supplyAsync(() -> run("perf",
                    "--socket", qsd.socketPath().toString(), "-w", "randread", "-q", "32", "-t", "30"));
            Thread.sleep(3000);
            long killed = System.nanoTime();
            ProcessHandle.of(qsd.pid()).orElseThrow().destroyForcibly();
            CommandResult r = perf.get(20, java.util.concurrent.TimeUnit.SECONDS);
            long endedMillis = java.util.concurrent.TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed);
            System.out.println(r.out + r.err);
            assertEquals(1, r.status, r.out + r.err);
            assertTrue(endedMillis < 5000, "perf ended " + endedMillis + " ms after the kill, not at the end of -t");
            assertTrue(r.out.contains("vhost-user back-end on " + qsd.socketPath() + " disconnected"), "the progress lines say it: " + r.out);
            Matcher row = Pattern.compile("VirtioBlk0\\s+randread\\s+32\\s+4096\\s+([0-9]+)").matcher(r.out);
            assertTrue(row.find(), "the table of what was measured is printed: " + r.out);
            assertTrue(Long.parseLong(row.group(1)) > 0, "the seconds before the kill count: " + r.out);
            // I/Os in flight fail ("N I/Os failed; the first: ..."), or, when none was in flight at the kill, the next is refused
            assertTrue(r.err.startsWith("perf: VirtioBlk0 -q 32: ") && r.err.contains("disconnected"), "the error follows the table: " + r.err);
        }
    }
}
