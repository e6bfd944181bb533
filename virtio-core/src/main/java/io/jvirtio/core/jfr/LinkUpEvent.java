package io.jvirtio.core.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;
import jdk.jfr.Timespan;

/** A lost device was reconnected, or given up (then {@link #givenUp} is set). */
@Name(LinkUpEvent.NAME)
@Label("Link Reconnect")
@Category("jvirtio")
@Description("A lost virtio device reconnected (or was given up)")
public final class LinkUpEvent extends jdk.jfr.Event {
    /** the event's JFR name */
    public static final String NAME = "io.jvirtio.LinkReconnect";

    @Label("Device")
    public String device;
    @Label("Stall")
    @Description("time from the loss to the outcome")
    @Timespan
    public long stall;
    @Label("Attempts")
    public int attempts;
    @Label("Given Up")
    public boolean givenUp;
    @Label("Reason")
    @Description("why it was given up; null when reconnected")
    public String reason;

    /** Commits one event when recording is on. */
    public static void emit(String device, long stallNanos, int attempts, boolean givenUp, String reason) {
        LinkUpEvent e = new LinkUpEvent();
        if (e.isEnabled()) {
            e.device = device;
            e.stall = stallNanos;
            e.attempts = attempts;
            e.givenUp = givenUp;
            e.reason = reason;
            e.commit();
        }
    }
}
