package io.jvirtio.core.jfr;

import jdk.jfr.Category;
import jdk.jfr.Description;
import jdk.jfr.Label;
import jdk.jfr.Name;

/** A device's transport lost its peer (the vhost-user back-end went away, the device stopped). */
@Name(LinkDownEvent.NAME)
@Label("Link Down")
@Category("jvirtio")
@Description("A virtio device's transport was lost")
public final class LinkDownEvent extends jdk.jfr.Event {
    /** the event's JFR name */
    public static final String NAME = "io.jvirtio.LinkDown";

    @Label("Device")
    public String device;
    @Label("Reason")
    public String reason;
    @Label("Reconnecting")
    @Description("whether the reconnect policy will try to reconnect")
    public boolean reconnecting;

    /** Commits one event when recording is on. */
    public static void emit(String device, String reason, boolean reconnecting) {
        LinkDownEvent e = new LinkDownEvent();
        if (e.isEnabled()) {
            e.device = device;
            e.reason = reason;
            e.reconnecting = reconnecting;
            e.commit();
        }
    }
}
