package io.jvirtio.bdev;

import io.jvirtio.bdev.BdevIoException.Reason;
import io.jvirtio.spec.VirtioException;
import io.jvirtio.spec.vhostuser.VhostUserException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** {@link BdevIoException#reasonOf}: a cause's reason carries over; a lost vhost-user socket is TRANSPORT_LOST. */
class BdevIoExceptionTest {
    @Test
    void aBdevIoExceptionKeepsItsReason() {
        assertEquals(Reason.TIMED_OUT, BdevIoException.reasonOf(new BdevIoException(Reason.TIMED_OUT, "late"), Reason.QUEUE_BROKEN));
    }

    @Test
    void aVhostUserSocketFailureIsTransportLost() {
        assertEquals(Reason.TRANSPORT_LOST,
                BdevIoException.reasonOf(VhostUserException.socketFailure("the back-end closed the connection", null), Reason.QUEUE_BROKEN));
    }

    @Test
    void aProtocolErrorOrAnyOtherCauseTakesTheFallback() {
        assertEquals(Reason.QUEUE_BROKEN,
                BdevIoException.reasonOf(VhostUserException.protocolError("queue 0 is not set up"), Reason.QUEUE_BROKEN));
        assertEquals(Reason.CLOSED, BdevIoException.reasonOf(new VirtioException("other"), Reason.CLOSED));
        assertEquals(Reason.CLOSED, BdevIoException.reasonOf(null, Reason.CLOSED));
    }
}
