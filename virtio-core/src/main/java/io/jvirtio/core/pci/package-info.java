/**
 * The virtio-pci modern transport (virtio 1.2 §4.1; SPDK's {@code lib/virtio/virtio_pci.c}
 * {@code modern_ops}) over any {@link io.jvirtio.core.pci.PciFunction}: vendor capabilities,
 * common configuration, notifications, device config guarded by {@code config_generation}.
 * Completions are polled, so no MSI-X vector is set up (each queue gets
 * {@code VIRTIO_MSI_NO_VECTOR}).
 */
package io.jvirtio.core.pci;
