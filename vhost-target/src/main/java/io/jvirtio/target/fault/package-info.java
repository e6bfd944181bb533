/**
 * Fault injection for tests of initiators: failed requests ({@link io.jvirtio.target.fault.FaultAwareModel}
 * maps them per device type), delays, stalls, dropped connections, malicious used-ring writes and
 * bad replies, armed through a device's {@link io.jvirtio.target.fault.FaultInjector}.
 */
package io.jvirtio.target.fault;
