package io.jvirtio.tools;

import io.jvirtio.core.testing.RequiresQemuStorageDaemon;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.*;

/** The README's main job and the benchmark, run as a user runs them (minus the JVM launch). */
@RequiresQemuStorageDaemon
class JvirtioCommandTest {
    private record Result(int status, String out, String err) {
    }

    private static Result run(String... args) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = Jvirtio.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8));
        return new Result(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void demoWritesReadsBackAndVerifiesTheHostFile() {
        Result r = run("demo", "-t", "1");
        assertEquals(0, r.status, r.out + r.err);
        assertTrue(r.out.contains("thread 0 on VirtioBlk0-q"), r.out);
        assertTrue(r.out.contains("thread 1 on VirtioBlk0-q"), r.out);
        assertTrue(r.out.contains("the host file reads zeros there"), r.out);
        assertTrue(r.out.contains("demo finished"), r.out);
    }

    @Test
    void perfJsonReportsPositiveFiguresForBothDepths() {
        Result r = run("perf", "--qsd-null", "256M", "-w", "randread", "-o", "4096", "-q", "1,32", "-t", "1", "--output", "json");
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
    void badCommandLinesNameTheOptionAndValue() {
        Result r = run("perf", "--qsd-null", "1G", "-w", "sideways");
        assertEquals(2, r.status);
        assertTrue(r.err.contains("-w sideways"), r.err);
        Result s = run("perf", "--socket", "/nonexistent/vhost.sock", "-t", "1");
        assertEquals(1, s.status);
        assertTrue(s.err.contains("/nonexistent/vhost.sock"), s.err);
        Result q = run("perf", "--qsd-null", "1G", "-q", "zero");
        assertEquals(2, q.status);
        assertTrue(q.err.contains("-q zero"), q.err);
    }
}
