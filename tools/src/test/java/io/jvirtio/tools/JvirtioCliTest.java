package io.jvirtio.tools;

import io.jvirtio.backend.VhostUserTarget;
import io.jvirtio.backend.blk.BlkModelOptions;
import io.jvirtio.backend.scsi.ScsiLun;
import io.jvirtio.backend.scsi.ScsiModelOptions;
import io.jvirtio.backend.scsi.VirtioScsiModel;
import io.jvirtio.backend.store.RamBlockStore;
import io.jvirtio.blk.VirtioBlkDevice;
import io.jvirtio.blk.VirtioBlkOptions;
import io.jvirtio.core.mem.HugePagePolicy;
import io.jvirtio.tools.perf.JobRunner;
import io.jvirtio.tools.perf.PerfJob;
import io.jvirtio.tools.perf.Workload;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static io.jvirtio.tools.CommandResult.run;
import static org.junit.jupiter.api.Assertions.*;

/**
 * The rough edges of issue 15, each as a user meets it, against the Java target in this process
 * (RAM devices: a virtio-blk device, a virtio-scsi controller with two LUNs): help on every
 * command, errors that name the option and value, the per-controller queue count of perf, the
 * virtio-scsi socket given to perf, the target's size and file errors, quiet logging, progress.
 */
class JvirtioCliTest {
    private static Path dir;
    private static Path blkSock;
    private static Path scsiSock;
    private static Path config;
    private static VhostUserTarget blkTarget;
    private static VhostUserTarget scsiTarget;

    @BeforeAll
    static void startTargets() throws Exception {
        dir = Files.createTempDirectory("jvirtio-cli-");
        blkSock = dir.resolve("vhost.blk0");
        scsiSock = dir.resolve("vhost.scsi0");
        RamBlockStore blk = new RamBlockStore(16L << 20, false);
        RamBlockStore lun0 = new RamBlockStore(8L << 20, false);
        RamBlockStore lun1 = new RamBlockStore(8L << 20, false);
        VirtioScsiModel scsi = new VirtioScsiModel(ScsiModelOptions.builder().name("scsi0").requestQueues(2).build());
        scsi.addLun(0, 0, ScsiLun.builder(lun0).blockSize(512).build());
        scsi.addLun(0, 1, ScsiLun.builder(lun1).blockSize(4096).build());
        blkTarget = VhostUserTarget.builder().name("blk0").socket(blkSock)
                .blk(blk, BlkModelOptions.builder().blockSize(512).numQueues(1).build()).closeOnExit(blk).start();
        scsiTarget = VhostUserTarget.builder().name("scsi0").socket(scsiSock).model(scsi).closeOnExit(lun0).closeOnExit(lun1).start();
        // the README's config, with one request queue on the scsi controller (SPDK's bdevperf config: vq_count 1, two targets)
        config = dir.resolve("bdev.json");
        Files.writeString(config, """
                {"subsystems": [{"subsystem": "bdev", "config": [
                  {"method": "bdev_virtio_attach_controller",
                   "params": {"name": "VirtioBlk0", "trtype": "user", "traddr": "%s", "dev_type": "blk", "vq_count": 1, "vq_size": 64}},
                  {"method": "bdev_virtio_attach_controller",
                   "params": {"name": "VirtioScsi0", "trtype": "user", "traddr": "%s", "dev_type": "scsi", "vq_count": 1, "vq_size": 64}},
                  {"method": "bdev_wait_for_examine"}]}]}
                """.formatted(blkSock, scsiSock));
    }

    @AfterAll
    static void stopTargets() throws Exception {
        scsiTarget.close();
        blkTarget.close();
        try (var s = Files.list(dir)) {
            for (Path p : s.toList()) {
                Files.deleteIfExists(p);
            }
        }
        Files.deleteIfExists(dir);
    }

    // --- help, usage, completion

    @Test
    void helpIsOnEveryCommandAndHelpCmdIsTheSameAsCmdHelp() {
        CommandResult help = run("help");
        assertEquals(0, help.status, help.all());
        for (String c : List.of("demo", "perf", "bdevs", "save-config", "target", "serve", "iostat", "generate-completion", "help")) {
            assertTrue(help.out.contains("  " + c + " "), c + " listed: " + help.out);
            CommandResult h = run(c, "--help");
            assertEquals(0, h.status, c + " --help: " + h.all());
            assertTrue(h.out.contains("Usage: jvirtio " + c), c + " --help: " + h.out);
            assertEquals(h.out, run("help", c).out, "jvirtio help " + c + " is " + c + " --help");
        }
        CommandResult target = run("target", "--help");
        assertFalse(target.all().contains("TargetMain"), target.out);
        assertEquals("", target.err, "help prints no warnings");
        assertTrue(target.out.contains("file:PATTERN(%t,%l)"), target.out);
        assertTrue(target.out.contains("--blk SPEC") && target.out.contains("--scsi SPEC") && target.out.contains("ram:SIZE"), target.out);
        assertEquals(help.out, run("--help").out);
    }

    @Test
    void noCommandIsAUsageErrorAndAnUnknownOneIsNamed() {
        CommandResult none = run();
        assertEquals(2, none.status);
        assertTrue(none.out.contains("Usage: jvirtio"), none.out);
        CommandResult unknown = run("frobnicate");
        assertEquals(2, unknown.status);
        assertTrue(unknown.err.contains("unknown command frobnicate"), unknown.err);
        CommandResult option = run("bdevs", "--json", config.toString(), "--bogus");
        assertEquals(2, option.status);
        assertTrue(option.err.contains("unknown option --bogus"), option.err);
        assertTrue(option.err.contains("see 'jvirtio bdevs --help'"), option.err);
    }

    @Test
    void generateCompletionPrintsABashScriptForEveryCommand() {
        CommandResult r = run("generate-completion");
        assertEquals(0, r.status, r.all());
        assertTrue(r.out.contains("complete -F"), r.out.substring(0, Math.min(400, r.out.length())));
        for (String c : List.of("demo", "perf", "bdevs", "save-config", "target", "serve", "iostat")) {
            assertTrue(r.out.contains(c), c);
        }
        assertTrue(r.out.contains("--qsd-null") && r.out.contains("--skip-unsupported"), "options are completed too");
    }

    // --- demo

    @Test
    void demoRefusesZeroSecondsAndArguments() {
        CommandResult zero = run("demo", "-t", "0");
        assertEquals(2, zero.status, zero.all());
        assertTrue(zero.err.contains("-t 0: measure for at least 1 second"), zero.err);
        assertFalse(zero.out.contains("demo"), "refused before anything runs: " + zero.out);
        CommandResult foo = run("demo", "foo");
        assertEquals(2, foo.status, foo.all());
        assertTrue(foo.err.contains("unexpected argument foo"), foo.err);
    }

    // --- perf: options checked before anything runs, each error naming option and value

    @Test
    void perfCompletionAndRateOptionsAreCheckedByName() {
        CommandResult bogus = run("perf", "--socket", blkSock.toString(), "--completion", "sometimes", "-t", "1");
        assertEquals(2, bogus.status, bogus.all());
        assertTrue(bogus.err.contains("--completion sometimes: one of polling, interrupt, adaptive, adaptive:MICROS"), bogus.err);
        CommandResult zero = run("perf", "--socket", blkSock.toString(), "--completion", "adaptive:0", "-t", "1");
        assertEquals(2, zero.status, zero.all());
        assertTrue(zero.err.contains("adaptive:MICROS needs at least 1 microsecond"), zero.err);
        CommandResult rate = run("perf", "--socket", blkSock.toString(), "--rate", "0", "-t", "1");
        assertEquals(2, rate.status, rate.all());
        assertTrue(rate.err.contains("--rate 0: I/Os per second must be at least 1"), rate.err);
        CommandResult cores = run("perf", "--socket", blkSock.toString(), "--completion", "interrupt", "--cores", "2", "-t", "1");
        assertEquals(2, cores.status, cores.all());
        assertTrue(cores.err.contains("the sleeping modes run one job per core"), cores.err);
    }

    @Test
    void perfInInterruptModeAtAFixedRateVerifiesAndSleeps() {
        CommandResult r = run("perf", "--socket", blkSock.toString(), "-w", "verify", "-q", "4", "--completion", "interrupt",
                "--rate", "2000", "-t", "1");
        assertEquals(0, r.status, r.all());
        assertTrue(r.out.contains("VirtioBlk0"), r.out);
    }

    @Test
    void perfNamesTheOptionAndValueAndNoInternalName() {
        CommandResult vq = run("perf", "--socket", blkSock.toString(), "--vq-size", "100", "-t", "1");
        assertEquals(2, vq.status, vq.all());
        assertTrue(vq.err.contains("--vq-size 100: must be a power of two from 4 to 32768"), vq.err);
        assertFalse(vq.err.contains("queueSize"), vq.err);

        CommandResult b = run("perf", "--socket", blkSock.toString(), "-b", "VirtioBlk9", "-t", "1");
        assertEquals(2, b.status, b.all());
        assertTrue(b.err.contains("-b VirtioBlk9") && b.err.contains("--json"), "-b is not ignored with --socket: " + b.err);

        CommandResult o = run("perf", "--socket", blkSock.toString(), "-o", "3", "-t", "1");
        assertEquals(2, o.status, o.all());
        assertTrue(o.err.contains("-o 3"), o.err);
        assertFalse(o.all().contains("running"), "nothing claims to run before -o is refused: " + o.all());

        CommandResult o4k = run("perf", "--json", config.toString(), "-b", "VirtioScsi0t0l1", "-o", "512", "-t", "1");
        assertEquals(2, o4k.status, o4k.all());
        assertTrue(o4k.err.contains("-o 512") && o4k.err.contains("4096"), o4k.err);
        assertFalse(o4k.all().contains("running"), "the bdev's block size is checked before running: " + o4k.all());

        CommandResult loss = run("perf", "--socket", blkSock.toString(), "--ctrlr-loss-timeout-sec", "-1", "--reconnect-delay-sec", "0");
        assertEquals(2, loss.status, loss.all());
        assertTrue(loss.err.contains("--reconnect-delay-sec"), "-1 is a value, and the rule is SPDK's: " + loss.err);
    }

    /**
     * The README's config: a two-LUN scsi controller with one request queue and a blk device. On one
     * core (the per-core scheduler) both LUNs share the core's one queue and run; with --cores 2 the
     * LUNs are dealt to both cores, the controller needs 2 queues, and that is refused at once.
     */
    @Test
    void perfOnAOneQueueScsiControllerRunsOnOneCoreAndTwoCoresAreRefusedAtOnceNamingItsQueuesAndLuns() {
        CommandResult oneCore = run("perf", "--json", config.toString(), "-q", "4", "-t", "1");
        assertEquals(0, oneCore.status, oneCore.all());
        assertTrue(oneCore.out.contains("cores: core 0: VirtioBlk0, VirtioScsi0t0, VirtioScsi0t0l1"), oneCore.out);
        for (String bdev : List.of("VirtioBlk0", "VirtioScsi0t0", "VirtioScsi0t0l1", "Total")) {
            assertTrue(oneCore.out.matches("(?s).*\\n" + bdev + "\\s+randread\\s+4\\s+4096\\s+[1-9][0-9]*.*"), bdev + ":\n" + oneCore.out);
        }

        long t0 = System.nanoTime();
        CommandResult r = run("perf", "--json", config.toString(), "--cores", "2", "-t", "30");
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertEquals(2, r.status, r.all());
        assertTrue(millis < 15_000, "refused before -t 30 runs: " + millis + " ms");
        assertTrue(r.err.contains("controller VirtioScsi0 has 1 request queue(s) but this run needs 2"), r.err);
        assertTrue(r.err.contains("cores 0,1") && r.err.contains("VirtioScsi0t0") && r.err.contains("VirtioScsi0t0l1")
                && r.err.contains("vq_count >= 2"), r.err);
        assertFalse(r.all().contains("running"), r.all());

        CommandResult one = run("perf", "--json", config.toString(), "-b", "VirtioScsi0t0", "--cores", "2", "-C", "-q", "4", "-t", "1");
        assertEquals(2, one.status, "-C: one LUN on both cores needs 2 queues too: " + one.all());
        CommandResult lun = run("perf", "--json", config.toString(), "-b", "VirtioScsi0t0", "-q", "4", "-t", "1");
        assertEquals(0, lun.status, lun.all());
        assertTrue(lun.out.matches("(?s).*VirtioScsi0t0\\s+randread\\s+4\\s+4096\\s+[1-9][0-9]*.*"), lun.out);
    }

    @Test
    void perfSocketOnAVirtioScsiDeviceSaysSoAndHowToAttachIt() {
        CommandResult r = run("perf", "--socket", scsiSock.toString(), "-t", "1");
        assertEquals(2, r.status, r.all());
        assertTrue(r.err.contains("this is a virtio-scsi device"), r.err);
        assertTrue(r.err.contains("--json CONFIG") && r.err.contains("\"dev_type\": \"scsi\"") && r.err.contains(scsiSock.toString()), r.err);
    }

    @Test
    void skipUnsupportedIsTakenByPerfAndTheAdviceIsTheOption() throws Exception {
        Path withMalloc = dir.resolve("malloc.json");
        Files.writeString(withMalloc, """
                {"subsystems": [{"subsystem": "bdev", "config": [
                  {"method": "bdev_malloc_create", "params": {"name": "Malloc0", "num_blocks": 1024, "block_size": 512}},
                  {"method": "bdev_virtio_attach_controller",
                   "params": {"name": "VirtioBlk0", "trtype": "user", "traddr": "%s", "dev_type": "blk", "vq_count": 1, "vq_size": 64}}]}]}
                """.formatted(blkSock));
        for (String cmd : List.of("bdevs", "perf")) {
            CommandResult refused = run(cmd, "--json", withMalloc.toString(), "-t", "1");
            CommandResult r = cmd.equals("bdevs") ? run(cmd, "--json", withMalloc.toString()) : refused;
            assertEquals(1, r.status, r.all());
            assertTrue(r.err.contains("bdev_malloc_create") && r.err.contains("pass --skip-unsupported"), r.err);
            assertFalse(r.err.contains("LoadOptions"), "no library call advised to a command-line user: " + r.err);
        }
        CommandResult perf = run("perf", "--json", withMalloc.toString(), "--skip-unsupported", "-q", "4", "-t", "1");
        assertEquals(0, perf.status, perf.all());
        assertTrue(perf.out.contains("VirtioBlk0"), perf.out);
    }

    // --- perf / demo reports: a failing job never hides the others; per-row CPU; one progress line for all

    @Test
    void aFailingJobDoesNotHideTheOthersResults() throws Exception {
        try (VirtioBlkDevice blk = VirtioBlkDevice.connectVhostUser("VirtioBlk0", blkSock,
                VirtioBlkOptions.defaults().withQueueSize(64).withChannelDepth(8).withHugePages(HugePagePolicy.NEVER))) {
            assertEquals(1, blk.maxChannels());
            List<PerfJob> jobs = List.of(new PerfJob(blk, Workload.RANDREAD, 4, 4096, 100, TimeUnit.SECONDS.toNanos(1), 1, 0, 2),
                    new PerfJob(blk, Workload.RANDREAD, 4, 4096, 100, TimeUnit.SECONDS.toNanos(1), 2, 1, 2));
            JobRunner.Outcome o = JobRunner.run(jobs, null, null);
            assertTrue(o.anyFailed(), "two jobs, one request queue: one cannot open its channel");
            assertEquals(1, o.failureLines().size(), o.failureLines().toString());
            assertTrue(o.failureLines().getFirst().contains("request queues"), o.failureLines().toString());
            assertEquals(1, o.mergedByBdev().size(), "the job that ran is reported");
            assertTrue(o.mergedByBdev().getFirst().ios() > 0);
        }
    }

    @Test
    void theProgressLineCoversEveryBdevAndRowsHaveTheirOwnCpu() throws Exception {
        CommandResult r = run("perf", "--json", config.toString(), "-b", "VirtioBlk0", "-q", "4", "-t", "1");
        assertEquals(0, r.status, r.all());
        assertTrue(r.out.contains("cpu%") && !r.out.contains("jvm_cpu%"), r.out);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("processes over the -q 4 run \\(([0-9.]+) s with warm-up\\): jvm ([0-9.]+)% CPU")
                .matcher(r.out);
        assertTrue(m.find(), r.out);
        // the CPU time covers the whole run, warm-up included, and is divided by that run's wall time: never more
        // than every CPU of the machine (over the measured phase alone it came out at 120-300 %)
        assertTrue(Double.parseDouble(m.group(1)) >= 1.0, "the run lasted at least its -t: " + m.group(1));
        assertTrue(Double.parseDouble(m.group(2)) <= 100.0 * Runtime.getRuntime().availableProcessors() + 1, r.out);

        VirtioBlkOptions o = VirtioBlkOptions.defaults().withQueueSize(64).withChannelDepth(8).withHugePages(HugePagePolicy.NEVER);
        try (VirtioBlkDevice a = VirtioBlkDevice.connectVhostUser("BlkA", blkSock, o)) {
            Path sock2 = dir.resolve("vhost.blk1");
            RamBlockStore store = new RamBlockStore(8L << 20, false);
            try (VhostUserTarget t2 = VhostUserTarget.builder().name("blk1").socket(sock2).blk(store, BlkModelOptions.defaults())
                    .closeOnExit(store).start();
                 VirtioBlkDevice b = VirtioBlkDevice.connectVhostUser("BlkB", sock2, o)) {
                List<String> lines = Collections.synchronizedList(new ArrayList<>());
                JobRunner.Outcome out = JobRunner.run(List.of(new PerfJob(a, Workload.RANDREAD, 4, 4096, 100, TimeUnit.MILLISECONDS.toNanos(2500), 1),
                        new PerfJob(b, Workload.RANDREAD, 4, 4096, 100, TimeUnit.MILLISECONDS.toNanos(2500), 2)), null, lines::add);
                assertFalse(out.anyFailed());
                assertFalse(lines.isEmpty());
                assertTrue(lines.getFirst().contains("BlkA") && lines.getFirst().contains("BlkB") && lines.getFirst().contains("2 of 2 jobs"),
                        lines.toString());
                for (var res : out.results()) {
                    double cpu = res.cpuNanos() * 100.0 / res.elapsedNanos();
                    assertTrue(cpu <= 110, "a job's CPU is its own thread's, at most one core: " + cpu);
                }
            }
        }
    }

    @Test
    void progressIsOneRewrittenLineOnATerminalAndRarePlainLinesElsewhere() {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        Progress tty = new Progress(new PrintStream(b, true, StandardCharsets.UTF_8), true);
        tty.update("1.0 s  long line");
        tty.update("2.0 s  short");
        tty.event("disconnected");
        assertEquals("\r1.0 s  long line\r2.0 s  short    \r" + " ".repeat(12) + "\rdisconnected\n", b.toString(StandardCharsets.UTF_8));

        ByteArrayOutputStream p = new ByteArrayOutputStream();
        Progress pipe = new Progress(new PrintStream(p, true, StandardCharsets.UTF_8), false);
        pipe.update("1.0 s");
        pipe.update("2.0 s");
        pipe.done();
        assertEquals("", p.toString(StandardCharsets.UTF_8), "no progress lines for a short run when not a terminal");
        pipe.event("disconnected");
        assertEquals("disconnected\n", p.toString(StandardCharsets.UTF_8));
    }

    // --- target

    @Test
    void targetSizeAndFileErrorsSayWhy() {
        Path sock = dir.resolve("t.sock");
        CommandResult ram = run("target", "--socket", sock.toString(), "--blk", "ram:1T");
        assertEquals(2, ram.status, ram.all());
        assertTrue(ram.err.contains("ram:1T") && ram.err.contains("1024.0 GiB") && ram.err.contains("off-heap memory limit"), ram.err);
        assertFalse(ram.all().contains("OutOfMemoryError") || ram.all().contains("\tat "), "no stack trace: " + ram.all());

        CommandResult scsi = run("target", "--socket", sock.toString(), "--scsi", "ram:512G,targets=1,luns=2");
        assertEquals(2, scsi.status, scsi.all());
        assertTrue(scsi.err.contains("512.0 GiB"), scsi.err);

        CommandResult file = run("target", "--socket", sock.toString(), "--blk", "file:" + dir.resolve("nosuch.img"));
        assertEquals(1, file.status, file.all());
        assertTrue(file.err.contains("cannot open store file " + dir.resolve("nosuch.img") + ": no such file"), file.err);

        CommandResult usage = run("target", "--blk", "ram:1M");
        assertEquals(2, usage.status, usage.all());
        assertTrue(usage.err.startsWith("jvirtio target: ") && !usage.all().contains("TargetMain"), usage.err);
        assertFalse(Files.exists(sock));
    }

    // --- logging

    /** {@code jvirtio bdevs} in a JVM of its own, as the launcher runs it: no INFO lines unless -v. */
    @Test
    void logsAreQuietByDefaultAndVShowsInfo() throws Exception {
        String quiet = runJvm("bdevs", "--json", config.toString());
        assertFalse(quiet.contains("[INFO]"), "quiet by default: " + quiet);
        String verbose = runJvm("-v", "bdevs", "--json", config.toString());
        assertTrue(verbose.contains("[INFO]"), "-v shows INFO: " + verbose);
        assertFalse(verbose.contains("[DEBUG]"), verbose);
        assertEquals("warn", Logging.level(Logging.verbosity(new String[] {"perf"})));
        assertEquals("debug", Logging.level(Logging.verbosity(new String[] {"perf", "-vv"})));
        assertEquals("debug", Logging.level(Logging.verbosity(new String[] {"-v", "perf", "--verbose"})));
    }

    /** {@code jvirtio target} in a JVM of its own: it says what it serves on stdout, and logs no INFO lines unless -v. */
    @Test
    void theTargetSaysWhatItServesAndLogsQuietly() throws Exception {
        Path sock = dir.resolve("served.sock");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Jvirtio.class.getName(),
                "target", "--socket", sock.toString(), "--blk", "ram:1M"));
        Path errFile = dir.resolve("target.err");
        Process p = new ProcessBuilder(cmd).redirectError(errFile.toFile()).start();
        try (var out = new java.io.BufferedReader(new java.io.InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            assertEquals("serving blk0 (blk) on " + sock, out.readLine());
            assertEquals("stop with Ctrl-C or SIGTERM", out.readLine());
            try (VirtioBlkDevice blk = VirtioBlkDevice.connectVhostUser("cli", sock,
                    VirtioBlkOptions.defaults().withQueueSize(16).withMemoryBytes(2L << 20).withHugePages(HugePagePolicy.NEVER))) {
                assertEquals(1L << 20, blk.blockCount() * blk.blockSize());
            }
        } finally {
            p.destroy(); // SIGTERM: the target closes its devices
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        }
        String err = Files.readString(errFile);
        assertFalse(err.contains("[INFO]"), "quiet by default: " + err);
        assertFalse(Files.exists(sock), "SIGTERM closed the device and removed its socket");
    }

    private static String runJvm(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Jvirtio.class.getName()));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        p.getOutputStream().close();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), err);
        return err;
    }
}
