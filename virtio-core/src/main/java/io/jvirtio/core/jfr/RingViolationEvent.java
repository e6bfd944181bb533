package io.jvirtio.core.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** The device broke the split ring's rules: the queue is broken and its requests failed. */
@Name(RingViolationEvent.NAME)
@Label("Ring Violation")
@Category("jvirtio")
@Description("A device violated the split virtqueue protocol; the queue was broken")
public final class RingViolationEvent extends jdk.jfr.Event {
    /** the event's JFR name */
    public static final String NAME = "io.jvirtio.RingViolation";

    @Label("Queue")
    public String queue;
    @Label("Violation")
    @Description("RingViolation")
    public String violation;
    @Label("Detail")
    public String detail;
    @Label("Requests Failed")
    public int requestsFailed;

    /** Commits one event when recording is on. */
    public static void emit(String queue, String violation, String detail, int requestsFailed) {
        RingViolationEvent e = new RingViolationEvent();
        if (e.isEnabled()) {
            e.queue = queue;
            e.violation = violation;
            e.detail = detail;
            e.requestsFailed = requestsFailed;
            e.commit();
        }
    }
}
