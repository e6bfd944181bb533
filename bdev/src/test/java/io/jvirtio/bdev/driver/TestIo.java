package io.jvirtio.bdev.driver;

/** A driver I/O with nothing of a driver's own, for the driver layer's tests. */
final class TestIo extends DriverIo {
}
