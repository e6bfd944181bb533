package io.jvirtio.tools.vfio;

import io.jvirtio.testkit.guest.HostJava;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What {@link VfioGuestTest} hands to the guest's {@code host_java}: paths the chroot can see, the environment it reads. */
class HostJavaTest {

    @Test
    void theTestClassPathUnderSurefireIsExpanded() {
        HostJava java = HostJava.current();
        assertTrue(Files.isExecutable(java.java()), java.java()::toString);
        List<Path> cp = java.classPath();
        assertFalse(cp.stream().anyMatch(p -> p.getFileName().toString().startsWith("surefirebooter")), () -> "booter jar not expanded: " + cp);
        assertFalse(cp.stream().anyMatch(p -> p.startsWith(HostJava.GUEST_TMP)), () -> "under " + HostJava.GUEST_TMP + " (a tmpfs in the chroot): " + cp);
        Path testClasses = Path.of(VfioGuestScenarios.class.getProtectionDomain().getCodeSource().getLocation().getPath()).toAbsolutePath();
        assertTrue(cp.stream().anyMatch(p -> p.toAbsolutePath().normalize().equals(testClasses.normalize())), () -> testClasses + " not in " + cp);
        assertTrue(cp.stream().anyMatch(p -> p.toString().contains("json-config")), () -> "json-config missing from " + cp);
    }

    @Test
    void pathsTheGuestCannotSeeAreRefused() {
        Path java = Path.of("/usr/bin/java");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new HostJava(java, List.of(Path.of("/run/surefire/booter.jar")), HostJava.TCG_OPTIONS));
        assertTrue(e.getMessage().contains("/run/surefire/booter.jar"), e::getMessage);
        // a checkout under /tmp is fine: the host's /tmp is visible in the chroot
        new HostJava(java, List.of(Path.of("/tmp/fresh/tools/target/classes")), HostJava.TCG_OPTIONS);
        assertThrows(IllegalArgumentException.class, () -> new HostJava(java, List.of(Path.of("relative.jar")), List.of()));
        assertThrows(IllegalArgumentException.class, () -> new HostJava(java, List.of(), List.of("-Dx=a b")));
    }

    @Test
    void environmentForHostJava() {
        HostJava j = new HostJava(Path.of("/opt/jdk/bin/java"), List.of(Path.of("/a/classes"), Path.of("/b.jar")), List.of("-Xmx1m"))
                .withOptions("-Dk=v");
        assertEquals(Map.of(HostJava.JAVA_ENV, "/opt/jdk/bin/java", HostJava.CLASSPATH_ENV, "/a/classes:/b.jar",
                HostJava.OPTIONS_ENV, "-Xmx1m -Dk=v", HostJava.ROOT_ENV, HostJava.GUEST_ROOT), j.environment());
    }
}
