package io.jvirtio.bdev.jfr;

import io.jvirtio.bdev.BdevIoException.Reason;
import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.StackTrace;

/** An I/O completed with an error (the failure path only: never created for a successful I/O). */
@Name(IoErrorEvent.NAME)
@Label("I/O Error")
@Category("jvirtio")
@Description("A bdev I/O completed with an error")
@StackTrace(false)
public final class IoErrorEvent extends jdk.jfr.Event {
    /** the event's JFR name */
    public static final String NAME = "io.jvirtio.IoError";

    @Label("Bdev")
    public String bdev;
    @Label("Queue")
    @Description("the request queue the I/O was on")
    public String queue;
    @Label("Operation")
    public String operation;
    @Label("Offset")
    @jdk.jfr.DataAmount
    public long offset;
    @Label("Reason")
    @Description("BdevIoException.Reason")
    public String reason;
    @Label("Message")
    public String message;

    /** Commits one event when recording is on. */
    public static void emit(String bdev, String queue, String operation, long offset, Reason reason, Throwable error) {
        IoErrorEvent e = new IoErrorEvent();
        if (!e.isEnabled()) {
            return;
        }
        e.bdev = bdev;
        e.queue = queue;
        e.operation = operation;
        e.offset = offset;
        e.reason = reason.name();
        e.message = error.getMessage();
        e.commit();
    }
}
