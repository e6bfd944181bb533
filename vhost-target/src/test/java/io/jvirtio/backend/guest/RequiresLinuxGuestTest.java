package io.jvirtio.backend.guest;

import io.jvirtio.testkit.guest.LinuxGuest;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;
import org.opentest4j.TestAbortedException;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@link RequiresLinuxGuest}'s decision, without touching the environment (runs everywhere, no guest). */
class RequiresLinuxGuestTest {
    @Test
    void missingPrerequisitesSkipOrFail() {
        assertDoesNotThrow(() -> RequiresLinuxGuest.Check.decide(Optional.empty(), true));
        TestAbortedException skip = assertThrows(TestAbortedException.class, () -> RequiresLinuxGuest.Check.decide(Optional.of("no kernel"), false));
        assertTrue(skip.getMessage().contains("no kernel") && skip.getMessage().contains(LinuxGuest.REQUIRE_ENV));
        AssertionFailedError e = assertThrows(AssertionFailedError.class, () -> RequiresLinuxGuest.Check.decide(Optional.of("no kernel"), true));
        assertTrue(e.getMessage().contains("no kernel") && e.getMessage().contains(LinuxGuest.REQUIRE_ENV));
    }
}
