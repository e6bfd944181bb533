/**
 * Fault injection for tests of initiators: failed requests ({@link io.jvirtio.backend.fault.FaultAwareModel}
 * maps them per device type), delays, stalls, dropped connections, malicious used-ring writes and
 * bad replies, armed through a device's {@link io.jvirtio.backend.fault.FaultInjector}.
 */
package io.jvirtio.backend.fault;
