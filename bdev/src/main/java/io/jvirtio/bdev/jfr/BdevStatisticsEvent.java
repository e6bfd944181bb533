package io.jvirtio.bdev.jfr;

import io.jvirtio.bdev.IoStatistics;
import io.jvirtio.bdev.OpStatistics;
import io.jvirtio.bdev.driver.BdevStatistics;
import jdk.jfr.Category;
import jdk.jfr.DataAmount;
import jdk.jfr.Description;
import jdk.jfr.FlightRecorder;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.Period;
import jdk.jfr.StackTrace;
import jdk.jfr.Timespan;
import org.slf4j.LoggerFactory;

/**
 * A bdev's cumulative I/O statistics ({@link IoStatistics}), one event per live bdev each period
 * (1 s by default; set {@code io.jvirtio.BdevStatistics#period} in a JFC or recording). Emitted by a
 * periodic hook on JFR's own thread, never on the I/O path.
 */
@Name(BdevStatisticsEvent.NAME)
@Label("Bdev Statistics")
@Category("jvirtio")
@Description("Cumulative I/O statistics of one bdev (bdev_get_iostat)")
@Period("1 s")
@StackTrace(false)
public final class BdevStatisticsEvent extends jdk.jfr.Event {
    /** the event's JFR name */
    public static final String NAME = "io.jvirtio.BdevStatistics";
    private static volatile boolean registered;

    @Label("Bdev")
    public String bdev;
    @Label("Read Ops")
    public long readOps;
    @Label("Bytes Read")
    @DataAmount
    public long bytesRead;
    @Label("Read Latency Mean")
    @Timespan
    public long readLatencyMean;
    @Label("Read Latency Max")
    @Timespan
    public long readLatencyMax;
    @Label("Write Ops")
    public long writeOps;
    @Label("Bytes Written")
    @DataAmount
    public long bytesWritten;
    @Label("Write Latency Mean")
    @Timespan
    public long writeLatencyMean;
    @Label("Write Latency Max")
    @Timespan
    public long writeLatencyMax;
    @Label("Unmap Ops")
    public long unmapOps;
    @Label("Bytes Unmapped")
    @DataAmount
    public long bytesUnmapped;
    @Label("I/O Errors")
    public long ioErrors;

    /**
     * Registers the periodic hook once; harmless where JFR is unavailable. The first bdev calls it;
     * a tool that starts a recording before attaching anything ({@code perf --jfr}) should call it
     * before {@code Recording.start()}, so that JFR schedules the event from the recording's start.
     */
    public static void ensureRegistered() {
        if (registered) {
            return;
        }
        synchronized (BdevStatisticsEvent.class) {
            if (registered) {
                return;
            }
            registered = true;
            try {
                FlightRecorder.addPeriodicEvent(BdevStatisticsEvent.class, BdevStatisticsEvent::emitAll);
            } catch (RuntimeException | Error e) {
                LoggerFactory.getLogger(BdevStatisticsEvent.class).debug("JFR periodic bdev statistics unavailable: {}", e.toString());
            }
        }
    }

    private static void emitAll() {
        for (BdevStatistics b : BdevStatistics.live()) {
            IoStatistics s = b.snapshot();
            BdevStatisticsEvent e = new BdevStatisticsEvent();
            e.bdev = s.bdevName();
            OpStatistics r = s.read();
            OpStatistics w = s.write();
            e.readOps = r.ops();
            e.bytesRead = r.bytes();
            e.readLatencyMean = (long) r.meanLatencyTicks();
            e.readLatencyMax = r.maxLatencyTicks();
            e.writeOps = w.ops();
            e.bytesWritten = w.bytes();
            e.writeLatencyMean = (long) w.meanLatencyTicks();
            e.writeLatencyMax = w.maxLatencyTicks();
            e.unmapOps = s.unmap().ops();
            e.bytesUnmapped = s.unmap().bytes();
            e.ioErrors = s.errorCount();
            e.commit();
        }
    }
}
