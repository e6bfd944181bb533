package io.jvirtio.core.testing;

import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.extension.ExtensionContext;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Marks a test class that needs qemu-storage-daemon: without the binary its tests are skipped
 * with a message naming the binary and the Debian package, or fail when
 * {@code JVIRTIO_REQUIRE_QSD=1} (see {@link QsdAvailability#assumeAvailable()}).
 */
@Target(ElementType.TYPE)
@Retention(RetentionPolicy.RUNTIME)
@ExtendWith(RequiresQemuStorageDaemon.Check.class)
public @interface RequiresQemuStorageDaemon {
    /** Runs {@link QsdAvailability#assumeAvailable()} before the class's tests. */
    final class Check implements BeforeAllCallback {
        @Override
        public void beforeAll(ExtensionContext context) {
            QsdAvailability.assumeAvailable();
        }
    }
}
