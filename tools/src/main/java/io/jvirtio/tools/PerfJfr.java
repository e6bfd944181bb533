package io.jvirtio.tools;

import io.jvirtio.bdev.jfr.AttachEvent;
import io.jvirtio.bdev.jfr.BdevStatisticsEvent;
import io.jvirtio.bdev.jfr.DetachEvent;
import io.jvirtio.bdev.jfr.IoErrorEvent;
import io.jvirtio.core.jfr.LinkDownEvent;
import io.jvirtio.core.jfr.LinkUpEvent;
import io.jvirtio.core.jfr.RingViolationEvent;
import jdk.jfr.Configuration;
import jdk.jfr.Recording;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.text.ParseException;
import java.time.Duration;
import java.util.List;

/**
 * {@code perf --jfr FILE}: a JDK Flight Recorder recording of the whole run, attach to detach. The
 * JDK's {@code default} settings plus every {@code io.jvirtio.*} event (no threshold) and the
 * per-bdev statistics every second. The statistics hook is registered before the recording starts
 * ({@link BdevStatisticsEvent#ensureRegistered()}), or JFR might not schedule it in this recording.
 */
final class PerfJfr implements AutoCloseable {
    /** The jvirtio events a recording enables. */
    static final List<String> EVENTS = List.of(AttachEvent.NAME, DetachEvent.NAME, IoErrorEvent.NAME, LinkDownEvent.NAME,
            LinkUpEvent.NAME, RingViolationEvent.NAME);
    /** How often the statistics event is taken. */
    static final Duration STATISTICS_PERIOD = Duration.ofSeconds(1);

    private final Recording recording;
    private final Path file;

    private PerfJfr(Recording recording, Path file) {
        this.recording = recording;
        this.file = file;
    }

    /** @return a started recording that {@link #close()} writes to {@code file}, or null when {@code file} is null */
    static PerfJfr startOrNull(Path file) {
        if (file == null) {
            return null;
        }
        BdevStatisticsEvent.ensureRegistered();
        Recording r;
        try {
            r = new Recording(Configuration.getConfiguration("default"));
        } catch (IOException | ParseException e) {
            r = new Recording();
        }
        r.setName("jvirtio perf");
        for (String name : EVENTS) {
            r.enable(name).withoutThreshold();
        }
        r.enable(BdevStatisticsEvent.NAME).withPeriod(STATISTICS_PERIOD);
        r.setToDisk(true);
        r.start();
        return new PerfJfr(r, file);
    }

    /** Stops the recording and writes it to the file. */
    @Override
    public void close() {
        try (Recording r = recording) {
            r.stop();
            r.dump(file);
        } catch (IOException e) {
            throw new UncheckedIOException("--jfr " + file + ": cannot write the recording: " + e.getMessage(), e);
        }
    }
}
