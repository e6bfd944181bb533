package io.jvirtio.backend.guest;

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
import java.util.Optional;

/**
 * Marks a test class that boots a Linux guest ({@link LinuxGuest}): without qemu-system-x86_64,
 * the extracted kernel package or a static busybox its tests are skipped with the reason and the
 * fix ({@code .ci/guest-prereqs}), or fail when {@code JVIRTIO_REQUIRE_GUEST=1} (CI).
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(RequiresLinuxGuest.Check.class)
public @interface RequiresLinuxGuest {
    /** Skips or fails each test of the class (per test, so that the reports count and explain every skip). */
    final class Check implements BeforeEachCallback {
        @Override
        public void beforeEach(ExtensionContext context) {
            decide(LinuxGuest.unavailableReason(), LinuxGuest.required());
        }

        /**
         * @param reason   why no guest can run, or empty
         * @param required whether {@code JVIRTIO_REQUIRE_GUEST=1}
         */
        static void decide(Optional<String> reason, boolean required) {
            if (reason.isEmpty()) {
                return;
            }
            if (required) {
                Assertions.fail(reason.get() + "; failing because " + LinuxGuest.REQUIRE_ENV + "=1");
            }
            Assumptions.abort(reason.get() + "; test skipped (set " + LinuxGuest.REQUIRE_ENV + "=1 to fail instead)");
        }
    }
}
