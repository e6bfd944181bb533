package io.jvirtio.tools.vfio;

import io.jvirtio.testkit.guest.LinuxGuest;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a test class that boots a Linux guest ({@link LinuxGuest}): without qemu-system-x86_64, the
 * extracted kernel package or a static busybox its tests are skipped with the reason and the fix
 * ({@code .ci/guest-prereqs}), or fail when {@code JVIRTIO_REQUIRE_GUEST=1} (CI). The same rule as
 * vhost-target's {@code io.jvirtio.backend.guest.RequiresLinuxGuest} (test sources are not shared
 * between modules).
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(RequiresLinuxGuest.Check.class)
public @interface RequiresLinuxGuest {
    /** Skips or fails each test (and test factory) of the class. */
    final class Check implements BeforeEachCallback {
        @Override
        public void beforeEach(ExtensionContext context) {
            LinuxGuest.unavailableReason().ifPresent(reason -> {
                if (LinuxGuest.required()) {
                    Assertions.fail(reason + "; failing because " + LinuxGuest.REQUIRE_ENV + "=1");
                }
                Assumptions.abort(reason + "; test skipped (set " + LinuxGuest.REQUIRE_ENV + "=1 to fail instead)");
            });
        }
    }
}
